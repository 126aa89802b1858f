// Command crawl counts the links of many web pages at once: one oneshot job
// of many tasks on the swarm, an hrefcounter task per page, at most
// -parallel running at a time.
//
//	crawl [-parallel 8] [-network NET]... [-timeout 1m] [-image IMAGE]
//	      [-label KEY=VALUE]... [-json] [-f FILE] [URL...]
//
// It prints a table (URL, internal links, external links, status) and the
// totals on stdout (with -json, one JSON object holding both), and why each
// failed page failed on stderr. A page that fails does not stop the others.
// It exits 0 when every page was counted, 1 when some were not, and 125
// when no task could run at all; on Ctrl-C it stops the tasks in flight
// (their services removed), starts no more, prints the table and exits 130.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/crawl/fanout"
)

// exitInterrupted is the exit code after SIGINT or SIGTERM, as a shell's.
const exitInterrupted = 130

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command but the process: it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, code, ok := parseArgs(args, stderr)
	if !ok {
		return code
	}
	urls, err := readURLs(cfg.file, cfg.urls, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "crawl:", err)
		return fanout.ExitNoneRan
	}
	runner, err := oneshot.NewRunner()
	if err != nil {
		fmt.Fprintln(stderr, "crawl:", err)
		return fanout.ExitNoneRan
	}
	defer runner.Close()
	printRows := fanout.PrintTable
	if cfg.json {
		printRows = fanout.PrintJSON
	}
	return crawl(ctx, runner, cfg, urls, printRows, stdout, stderr)
}

// crawl counts the urls with jobs run by r, prints the rows with printRows
// and the failures on stderr, and returns the exit code.
func crawl(ctx context.Context, r fanout.JobRunner, cfg config, urls []string, printRows func(io.Writer, []fanout.Row) error, stdout, stderr io.Writer) int {
	rows := fanout.Crawl(ctx, r, cfg.job, urls, cfg.parallel)
	if err := printRows(stdout, rows); err != nil {
		fmt.Fprintln(stderr, "crawl: print the results:", err)
	}
	_ = fanout.PrintDetails(stderr, rows)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return fanout.ExitCode(rows)
}
