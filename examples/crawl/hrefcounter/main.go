// Command hrefcounter is the job of examples/crawl: it fetches one web page,
// counts its links to the same site and to other sites (see package links),
// and prints one JSON object on stdout:
//
//	{"url":"https://example.com/","internal":12,"external":3}
//
// Usage: hrefcounter [-timeout 30s] URL. The page is read up to 8 MiB.
// Redirects are followed, and the links are counted against the page they
// lead to. Errors go to stderr; the exit code says what went wrong:
//
//	0   counted
//	2   the page could not be fetched (no such host, refused, timeout...)
//	3   the server answered, but not 200 OK
//	64  bad usage
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
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

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses the arguments, counts the page's links and returns the exit
// code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hrefcounter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", fetchTimeout, "time bound of the page's fetch")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: hrefcounter [-timeout D] URL")
		return exitBadUsage
	}
	counts, err := countPage(fs.Arg(0), *timeout)
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
