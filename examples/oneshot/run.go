package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

// runCommand is `oneshot run`: it runs one job and returns the exit code the
// command must end with (see outcome.go). r reads the service that
// --from-service or --compose names.
func runCommand(ctx context.Context, args []string, term terminal, r specReader) int {
	flags, err := parseRunFlags(args)
	if code, done := refuseFlags(err, runUsage, term); done {
		return code
	}
	return runFromSource(ctx, flags, r, term)
}

// refuseFlags prints the usage for errHelp (done, code 0) or the error of
// parsing the flags (done, code 125); done is false when err is nil.
func refuseFlags(err error, usage string, term terminal) (code int, done bool) {
	switch {
	case errors.Is(err, errHelp):
		fmt.Fprint(term.stdout, usage)
		return 0, true
	case err != nil:
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return jobexit.NotRun, true
	}
	return 0, false
}

// runFromSource runs the job that the parsed flags describe: it checks
// their values, reads the source's settings (none for a plain run), and
// runs the job. A flag value that cannot be parsed, or a source that
// cannot be read, is refused before anything is created, with code 125.
func runFromSource(ctx context.Context, flags *runFlags, r specReader, term terminal) int {
	start := time.Now()
	opts, err := flags.options()
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return jobexit.NotRun
	}
	source, err := r.read(ctx, flags.source)
	if err != nil {
		return flags.conclude(ctx, term, newConsole(term.stderr), nil, nil, err, start)
	}
	return runJob(ctx, flags.jobBase(source), opts, flags, term, start)
}

// runJob runs base with the flags' options applied over it, streaming its
// output to the terminal, and returns the exit code: the one run path of
// `oneshot run` and `oneshot stack run`.
func runJob(ctx context.Context, base oneshot.JobSpec, opts []oneshot.Option, flags *runFlags, term terminal, start time.Time) int {
	if flags.idempotencyKey != "" {
		opts = append(opts, oneshot.WithIdempotencyKey(flags.idempotencyKey))
	}
	if flags.detach {
		return detachJob(ctx, base, opts, term)
	}
	con := newConsole(term.stderr)
	var nodes *nodeNames
	if flags.manyTasks() {
		nodes = newNodeNames()
	}
	opts = append(opts, outputOptions(flags, term, con, nodes, start)...)
	stopNote := context.AfterFunc(ctx, func() { con.Println(stoppingNote(flags)) })
	defer stopNote()

	runner, err := cliRunner()
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return jobexit.NotRun
	}
	res, err := runner.Run(ctx, base, opts...)
	con.Finish()
	return flags.conclude(ctx, term, con, nodes, res, err, start)
}

// conclude prints how the run ended (the JSON with --json, the summary
// line or the table of the tasks, the messages and warnings) and returns
// the exit code. nodes, for a job of several tasks, names their nodes.
func (f *runFlags) conclude(ctx context.Context, term terminal, con *console, nodes *nodeNames, res *oneshot.Result, err error, start time.Time) int {
	o := decide(res, err, context.Cause(ctx), f.keep)
	if f.json {
		var tasks []jsonTask
		if f.manyTasks() {
			tasks = jsonTasks(res, nodes)
		}
		printJSON(term.stdout, res, err, o, tasks)
	}
	switch {
	case f.manyTasks() && res != nil && len(res.Tasks) > 0:
		if f.showProgress(term.stderrIsTerminal) || f.keep && !f.quiet || anyTaskFailed(res.Tasks) {
			for _, line := range taskTable(res, nodes, f.keep, time.Since(start)) {
				con.Println(line)
			}
		}
	case o.exited && (f.showProgress(term.stderrIsTerminal) || f.keep && !f.quiet):
		con.Println(summaryLine(res, f.keep, time.Since(start)))
	}
	for _, line := range f.report(o) {
		con.Println(line)
	}
	return o.code
}

// stoppingNote is printed when the first Ctrl-C (or SIGTERM) stops the
// job: the command now waits until the job has stopped, which may take its
// stop grace period.
func stoppingNote(flags *runFlags) string {
	grace := flags.base.StopGracePeriod // the source's, or --stop-timeout
	if flags.gave("stop-timeout") {
		grace = flags.stopTimeout
	}
	if grace <= 0 {
		grace = defaultStopTimeout
	}
	if flags.manyTasks() {
		fate := "remove their services"
		if flags.keep {
			fate = "keep their services"
		}
		return fmt.Sprintf("oneshot: stopping the job's tasks: SIGTERM now, SIGKILL to those still running after their stop grace period of %s; "+
			"waiting until they have stopped to %s (press Ctrl-C again to quit at once)", grace, fate)
	}
	fate := "remove its service"
	if flags.keep {
		fate = "keep its service"
	}
	return fmt.Sprintf("oneshot: stopping the job: SIGTERM now, SIGKILL if it is still running after its stop grace period of %s; "+
		"waiting until it has stopped to %s (press Ctrl-C again to quit at once)", grace, fate)
}

// report is the lines the command prints on stderr at its end: the
// outcome's message (a refusal in the words of the flags), then the
// warnings.
func (f *runFlags) report(o outcome) []string {
	var lines []string
	switch {
	case o.refusal != nil:
		lines = append(lines, f.explainError(o.refusal))
	case o.message != "":
		lines = append(lines, optionFlags.Replace(o.message))
	}
	for _, w := range o.warnings {
		lines = append(lines, optionFlags.Replace(w))
	}
	return lines
}

// outputOptions send the job's output to the terminal (unless --json keeps
// it for the JSON), and its progress to stderr when asked for, through con
// so that the two never share a line.
//
// For a job of several tasks, nodes notes the nodes they go to, and each
// progress line names its task.
func outputOptions(flags *runFlags, term terminal, con *console, nodes *nodeNames, start time.Time) []oneshot.Option {
	var opts []oneshot.Option
	if !flags.json {
		// Streamed, the output need not be kept too: the command's memory
		// stays flat however much the job prints.
		opts = append(opts,
			oneshot.WithStdout(con.stream(term.stdout, term.stdoutSharesStderr)),
			oneshot.WithStderr(con.stream(term.stderr, true)),
			oneshot.WithOutputLimit(-1))
	}
	var show func(oneshot.TaskStatus)
	if flags.showProgress(term.stderrIsTerminal) {
		show = progressPrinter(con, start, flags.manyTasks())
	}
	if fn := statusFunc(nodes, show); fn != nil {
		opts = append(opts, oneshot.WithStatusFunc(fn))
	}
	return opts
}

// jsonResult is what --json prints: the Result, with the output as text
// (bytes that are not UTF-8 become U+FFFD), times left out when unknown, the
// error's message, if any, what stopped the job, if it was stopped early,
// and the failure to remove its service, if any; for a job of several
// tasks, each task's result. The Result's fields keep their names.
type jsonResult struct {
	ExitCode                     int
	State                        oneshot.TaskState `json:",omitempty"`
	Stdout, Stderr               string
	StdoutDropped, StderrDropped int64     `json:",omitzero"`
	ServiceID, ServiceName       string    `json:",omitempty"`
	TaskID, NodeID               string    `json:",omitempty"`
	Message, Err                 string    `json:",omitempty"`
	Attempts                     int       `json:",omitzero"`
	CreatedAt                    time.Time `json:",omitzero"`
	StartedAt                    time.Time `json:",omitzero"`
	FinishedAt                   time.Time `json:",omitzero"`
	Error                        string    `json:",omitempty"`
	// Stopped says what stopped the job before its end ("its timeout of
	// 2s expired", "interrupted by SIGINT"); StillRunning that it may
	// still run.
	Stopped      string `json:",omitempty"`
	StillRunning bool   `json:",omitzero"`
	// CleanupErr says the job's service could not be removed.
	CleanupErr string `json:",omitempty"`
	// Tasks holds each task's result, by index, for a job of several
	// tasks (--tasks, --global); the fields above sum them up.
	Tasks []jsonTask `json:",omitempty"`
}

// printJSON prints the result of a run as one indented JSON object, with
// tasks, if any, as its Tasks; a run that created no service has ExitCode -1
// and only the Error.
func printJSON(w io.Writer, res *oneshot.Result, err error, o outcome, tasks []jsonTask) {
	if res == nil {
		res = &oneshot.Result{ExitCode: -1}
	}
	out := jsonResult{
		ExitCode: res.ExitCode, State: res.State, Stdout: string(res.Stdout), Stderr: string(res.Stderr),
		StdoutDropped: res.StdoutDropped, StderrDropped: res.StderrDropped,
		ServiceID: res.ServiceID, ServiceName: res.ServiceName, TaskID: res.TaskID, NodeID: res.NodeID,
		Message: res.Message, Err: res.Err, Attempts: res.Attempts,
		CreatedAt: res.CreatedAt, StartedAt: res.StartedAt, FinishedAt: res.FinishedAt,
		Stopped: o.stopped, StillRunning: o.stillRunning, Tasks: tasks,
	}
	if err != nil {
		out.Error = err.Error()
	}
	if res.CleanupErr != nil {
		out.CleanupErr = res.CleanupErr.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out) // stdout gone: the exit code still tells
}
