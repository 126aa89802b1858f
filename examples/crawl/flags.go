package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/crawl/fanout"
)

// config is what the command line asks for.
type config struct {
	parallel int
	json     bool
	file     string
	urls     []string
	job      fanout.JobConfig
}

// usage is printed by -h, before the flags.
const usage = `Usage: crawl [flags] [URL...]

Counts each page's links to its own site and to other sites with one job
of many tasks on the swarm, an hrefcounter task per page, and prints a table
and the totals.

Examples:
  crawl https://example.com/ https://example.org/about
  crawl -parallel 16 -timeout 30s -f urls.txt
  crawl -network web http://site/index.html    # a site served on a swarm network
  crawl -json -f urls.txt | jq '.totals'

Exit status: 0 every page counted, 1 some not, 125 no task could run.

Flags:
`

// parseArgs parses the command line. When it returns ok false, the command
// must exit with code (0 after -h).
func parseArgs(args []string, stderr io.Writer) (cfg config, code int, ok bool) {
	fs := flag.NewFlagSet("crawl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var networks, labels listFlag
	fs.IntVar(&cfg.parallel, "parallel", 8, "how many pages to count at once (the job's parallelism)")
	fs.Var(&networks, "network", "swarm network to attach the tasks to, to reach sites on it (repeatable)")
	fs.DurationVar(&cfg.job.Timeout, "timeout", time.Minute, "time bound of each page: its fetch, and its task's wait for a node (0: hrefcounter's 30s, and no bound on the wait)")
	fs.StringVar(&cfg.job.Image, "image", fanout.DefaultImage, "the hrefcounter image")
	fs.Var(&labels, "label", "KEY=VALUE label on every task's service (repeatable)")
	fs.BoolVar(&cfg.json, "json", false, "print the rows and totals as one JSON object instead of the table")
	fs.StringVar(&cfg.file, "f", "", "read URLs from FILE, one per line ('#' comments; - is stdin)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, 0, false
		}
		return cfg, fanout.ExitNoneRan, false
	}
	if err := finishConfig(&cfg, networks, labels, fs.Args()); err != nil {
		fmt.Fprintln(stderr, "crawl:", err)
		return cfg, fanout.ExitNoneRan, false
	}
	return cfg, 0, true
}

// finishConfig checks the parsed flags and fills what they imply.
func finishConfig(cfg *config, networks, labels listFlag, urls []string) error {
	if cfg.parallel < 1 {
		return fmt.Errorf("-parallel %d: must be at least 1", cfg.parallel)
	}
	cfg.urls, cfg.job.Networks = urls, networks
	for _, l := range labels {
		key, value, found := strings.Cut(l, "=")
		if !found || key == "" {
			return fmt.Errorf("-label %q: want KEY=VALUE", l)
		}
		cfg.job.Options = append(cfg.job.Options, oneshot.WithLabel(key, value))
	}
	return nil
}

// listFlag is a flag that may be given many times.
type listFlag []string

// String returns the values given so far.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds a value.
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
