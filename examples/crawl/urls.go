package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// readURLs returns the URLs given as arguments, then those of file (one per
// line, blank lines and '#' comments skipped; "-" reads stdin), if any.
func readURLs(file string, args []string, stdin io.Reader) ([]string, error) {
	urls := append([]string(nil), args...)
	if file != "" {
		fromFile, err := readURLFile(file, stdin)
		if err != nil {
			return nil, err
		}
		urls = append(urls, fromFile...)
	}
	if len(urls) == 0 {
		return nil, errors.New("no URL given; see crawl -h")
	}
	return urls, nil
}

// readURLFile reads the URLs of file ("-": stdin).
func readURLFile(file string, stdin io.Reader) ([]string, error) {
	r := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var urls []string
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		if line := strings.TrimSpace(lines.Text()); line != "" && !strings.HasPrefix(line, "#") {
			urls = append(urls, line)
		}
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return urls, nil
}
