package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

// pruneUsage is `oneshot prune --help`.
const pruneUsage = `Usage: oneshot prune [flags]

Removes the job services oneshot left on the swarm (run with --keep, or by a
process that died before it could remove them) once their tasks have ended,
one line each on stdout. Jobs still running are left alone. Exits 0, or 1
when a service could not be listed or removed (125 for bad flags).

Examples:
  oneshot prune
  oneshot prune --older-than 24h --dry-run
  oneshot prune --filter label=team=data

Flags:
      --older-than D      only services created more than D ago, e.g. 24h
      --filter label=KEY[=VALUE]
                          only services with this label (repeatable: all must match)
      --dry-run           list what would be removed; remove nothing
`

// pruneFlags holds what `oneshot prune` was given.
type pruneFlags struct {
	olderThan time.Duration
	filters   stringList
	dryRun    bool
}

// parsePruneFlags parses `oneshot prune`'s arguments into library options.
func parsePruneFlags(args []string) (*pruneFlags, []oneshot.PruneOption, error) {
	f := &pruneFlags{}
	fs := newFlagSet("oneshot prune")
	fs.DurationVar(&f.olderThan, "older-than", 0, "")
	fs.Var(&f.filters, "filter", "")
	fs.BoolVar(&f.dryRun, "dry-run", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, nil, flagSetError(err, "oneshot prune")
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q; see 'oneshot prune --help'", fs.Arg(0))
	}
	opts := []oneshot.PruneOption{oneshot.PruneOlderThan(f.olderThan)}
	for _, filter := range f.filters {
		label, ok := strings.CutPrefix(filter, "label=")
		if !ok || label == "" {
			return nil, nil, fmt.Errorf("--filter %q: want label=KEY or label=KEY=VALUE", filter)
		}
		opts = append(opts, oneshot.PruneLabel(label))
	}
	if f.dryRun {
		opts = append(opts, oneshot.PruneDryRun())
	}
	return f, opts, nil
}

// pruneCommand is `oneshot prune`.
func pruneCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, opts, err := parsePruneFlags(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, pruneUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "oneshot:", err)
		return jobexit.NotRun
	}
	pruned, err := pruneOnEngine(ctx, opts...) // on cliRunner: engineflags.go
	verb := "removed"
	if f.dryRun {
		verb = "would remove"
	}
	for _, p := range pruned {
		fmt.Fprintf(stdout, "%s %s (last task %s, created %s ago)\n", verb, p.Name, p.State, time.Since(p.CreatedAt).Round(time.Second))
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if len(pruned) == 0 {
		fmt.Fprintln(stderr, "oneshot: no finished job service to remove")
	}
	return 0
}
