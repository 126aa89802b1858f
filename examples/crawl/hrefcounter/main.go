// Command hrefcounter is the job of examples/crawl: it fetches one web page,
// counts its links to the same site and to other sites (see package links),
// and prints one JSON object on stdout:
//
//	{"url":"https://example.com/","internal":12,"external":3}
//
// Usage: hrefcounter [-timeout 30s] URL... With one URL it counts that
// page. As a task of a oneshot job of several tasks (ONESHOT_TASK_INDEX in
// its environment), it counts the URL at its index in the list, from 0:
// the crawl command runs one job of a task per page, each given the whole
// list (ONESHOT_TASK_COUNT, when set, must be the list's length).
//
// The page is read up to 8 MiB. Redirects are followed, and the links are
// counted against the page they lead to. Errors go to stderr; the exit code
// says what went wrong:
//
//	0   counted
//	2   the page could not be fetched (no such host, refused, timeout...)
//	3   the server answered, but not 200 OK
//	64  bad usage
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// The exit codes, a contract with the crawl command.
const (
	exitOK       = 0
	exitFetch    = 2
	exitHTTP     = 3
	exitBadUsage = 64
)

// The bounds of one fetch.
const (
	maxPageSize  = 8 << 20
	fetchTimeout = 30 * time.Second
)

// The variables that a oneshot job of several tasks gives each task.
const (
	envTaskIndex = "ONESHOT_TASK_INDEX"
	envTaskCount = "ONESHOT_TASK_COUNT"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run parses the arguments, counts the page's links and returns the exit
// code. getenv reads the task's index and count.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hrefcounter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", fetchTimeout, "time bound of the page's fetch")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(stderr, "usage: hrefcounter [-timeout D] URL...")
		return exitBadUsage
	}
	page, err := pickURL(fs.Args(), getenv)
	if err != nil {
		fmt.Fprintln(stderr, "hrefcounter:", err)
		fmt.Fprintln(stderr, "usage: hrefcounter [-timeout D] URL...")
		return exitBadUsage
	}
	counts, err := countPage(page, *timeout)
	if err != nil {
		fmt.Fprintln(stderr, "hrefcounter:", err)
		return exitCode(err)
	}
	if err := writeCounts(stdout, counts); err != nil {
		fmt.Fprintln(stderr, "hrefcounter:", err)
		return exitFetch
	}
	return exitOK
}

// pickURL is the URL to count: the one given, or, for a task of a job of
// several tasks, the one at the task's index.
func pickURL(urls []string, getenv func(string) string) (string, error) {
	index, count := getenv(envTaskIndex), getenv(envTaskCount)
	switch {
	case len(urls) == 0:
		return "", errors.New("no URL given")
	case index == "" && len(urls) > 1:
		return "", fmt.Errorf("%d URLs given, and no %s to pick one", len(urls), envTaskIndex)
	case index == "":
		return urls[0], nil
	}
	i, err := strconv.Atoi(index)
	if err != nil || i < 0 || i >= len(urls) {
		return "", fmt.Errorf("%s=%s: want an index of the %d URLs given, from 0", envTaskIndex, index, len(urls))
	}
	if n, err := strconv.Atoi(count); count != "" && (err != nil || n != len(urls)) {
		return "", fmt.Errorf("%s=%s, but %d URLs given: each task must get the whole list", envTaskCount, count, len(urls))
	}
	return urls[i], nil
}
