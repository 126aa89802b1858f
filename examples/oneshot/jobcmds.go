package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

// The commands for jobs that outlive the command that started them:
// `oneshot run --detach` leaves its job running and prints its name;
// `oneshot attach` waits on a job as `oneshot run` would have; `oneshot
// logs` prints what a job printed so far; `oneshot ps` lists the jobs on
// the swarm; `oneshot stop` stops one as Ctrl-C on its `oneshot run`.

const attachUsage = `Usage: oneshot attach [flags] JOB

Waits on a job that another command started (oneshot run --detach, a
migration tool that was killed...), as 'oneshot run' would have: its output
streams from the beginning, the command exits with the job's exit code, and
the job's service is removed (unless it was started with --keep, or another
process still waits on it). Ctrl-C stops the job. A job that already ended
gives its result while its service exists.

Flags:
      --output-from-now   stream only what the job prints from now on
      --timeout D         stop the job if it has not ended D from now
      --keep              keep the job's service once it is over
  -q, --quiet             no progress or summary lines
      --progress          progress lines on stderr (default when stderr is a terminal)
      --json              print the result as JSON on stdout instead of streaming
`

const logsUsage = `Usage: oneshot logs JOB

Prints what the job has printed so far (its latest task), stdout to stdout
and stderr to stderr, without changing anything of it.
`

const psUsage = `Usage: oneshot ps [--quiet]

Lists the jobs on the swarm (in flight, kept, or left by a process that
died), oldest first: name, state, node, exit code, age, waiters (processes
waiting on it), key. --quiet prints only the names.
`

const stopUsage = `Usage: oneshot stop [flags] JOB

Stops a job: SIGTERM, then SIGKILL after its stop grace period, and waits
until it has stopped; its output is printed as 'oneshot attach' prints it,
and the command exits with the job's exit code (e.g. 143). The job's other
waiters are told that it was stopped.

Flags:
  -q, --quiet             print nothing but the job's output
      --json              print the result as JSON on stdout
`

// attachCommand is `oneshot attach JOB` (stop: `oneshot stop JOB`).
func attachCommand(ctx context.Context, args []string, term terminal, stop bool) int {
	usage := attachUsage
	if stop {
		usage = stopUsage
	}
	flags, name, err := parseAttachFlags(args, stop)
	if code, done := refuseFlags(err, usage, term); done {
		return code
	}
	start := time.Now()
	con := newConsole(term.stderr)
	opts := outputOptions(flags, term, con, nil, start)
	if flags.outputFromNow {
		opts = append(opts, oneshot.WithOutputFromNow())
	}
	if flags.keep {
		opts = append(opts, oneshot.WithKeep())
	}
	if flags.timeout > 0 {
		opts = append(opts, oneshot.WithTimeout(flags.timeout))
	}
	runner, err := cliRunner()
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return jobexit.NotRun
	}
	job, err := runner.Attach(ctx, name, opts...)
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return jobexit.NotRun
	}
	if stop {
		job.Stop()
	}
	res, err := job.Wait(ctx)
	con.Finish()
	return flags.conclude(ctx, term, con, nil, res, err, start)
}

// parseAttachFlags parses `oneshot attach` (or `oneshot stop`) flags.
func parseAttachFlags(args []string, stop bool) (*runFlags, string, error) {
	f := &runFlags{}
	command := "oneshot attach"
	if stop {
		command = "oneshot stop"
	}
	fs := newFlagSet(command)
	for _, name := range []string{"q", "quiet"} {
		fs.BoolVar(&f.quiet, name, false, "")
	}
	fs.BoolVar(&f.json, "json", false, "")
	if !stop {
		fs.BoolVar(&f.outputFromNow, "output-from-now", false, "")
		fs.DurationVar(&f.timeout, "timeout", 0, "")
		fs.BoolVar(&f.keep, "keep", false, "")
		fs.BoolVar(&f.progress, "progress", false, "")
	}
	if err := f.parse(fs, args, command); err != nil {
		return nil, "", err
	}
	if fs.NArg() != 1 {
		return nil, "", fmt.Errorf("%s takes one job name or ID; see '%s --help'", command, command)
	}
	return f, fs.Arg(0), nil
}

// logsCommand is `oneshot logs JOB`.
func logsCommand(ctx context.Context, args []string, term terminal) int {
	fs := newFlagSet("oneshot logs")
	if err := fs.Parse(args); err != nil {
		code, _ := refuseFlags(flagSetError(err, "oneshot logs"), logsUsage, term)
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(term.stderr, "oneshot: oneshot logs takes one job name or ID; see 'oneshot logs --help'")
		return jobexit.NotRun
	}
	runner, err := cliRunner()
	if err == nil {
		err = runner.Logs(ctx, fs.Arg(0), term.stdout, term.stderr)
	}
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return 1
	}
	return 0
}

// psCommand is `oneshot ps`.
func psCommand(ctx context.Context, args []string, term terminal) int {
	var quiet bool
	fs := newFlagSet("oneshot ps")
	for _, name := range []string{"q", "quiet"} {
		fs.BoolVar(&quiet, name, false, "")
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q; see 'oneshot ps --help'", fs.Arg(0))
		} else {
			err = flagSetError(err, "oneshot ps")
		}
		code, _ := refuseFlags(err, psUsage, term)
		return code
	}
	runner, err := cliRunner()
	var jobs []oneshot.JobInfo
	if err == nil {
		jobs, err = runner.Jobs(ctx)
	}
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return 1
	}
	printJobs(term.stdout, jobs, quiet, time.Now())
	return 0
}

// printJobs writes the table of `oneshot ps`.
func printJobs(w io.Writer, jobs []oneshot.JobInfo, quiet bool, now time.Time) {
	if quiet {
		for _, j := range jobs {
			fmt.Fprintln(w, j.Name)
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tNODE\tEXIT\tAGE\tWAITERS\tIMAGE\tKEY")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", j.Name, jobState(j), orDash(j.NodeName), exitText(j.ExitCode),
			age(now.Sub(j.CreatedAt)), j.Waiters, j.Image, orDash(j.IdempotencyKey))
	}
	tw.Flush()
}

// jobState is a job's state for `oneshot ps`, with what else it is.
func jobState(j oneshot.JobInfo) string {
	words := []string{string(j.State)}
	if j.State == "" {
		words[0] = "created"
	}
	if j.Stopped {
		words = append(words, "stopped")
	}
	if j.Kept {
		words = append(words, "kept")
	}
	return strings.Join(words, ",")
}

func exitText(code int) string {
	if code < 0 {
		return "-"
	}
	return fmt.Sprint(code)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age is a duration as `docker ps` shows it, roughly.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// detachJob is `oneshot run --detach`: start the job, print its name on
// stdout and leave it running.
func detachJob(ctx context.Context, base oneshot.JobSpec, opts []oneshot.Option, term terminal) int {
	runner, err := cliRunner()
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return jobexit.NotRun
	}
	job, err := runner.Start(context.WithoutCancel(ctx), base, opts...)
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return jobexit.NotRun
	}
	job.Detach()
	fmt.Fprintln(term.stdout, job.Name())
	if job.Attached() {
		fmt.Fprintf(term.stderr, "oneshot: a job with this idempotency key is already in flight: %s\n", job.Name())
	}
	return 0
}
