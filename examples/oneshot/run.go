package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/oneshot-go/oneshot"
)

// runCommand is `oneshot run`: it runs one job and returns the exit code the
// command must end with (see outcome.go).
func runCommand(ctx context.Context, args []string, term terminal) int {
	start := time.Now()
	flags, err := parseRunFlags(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(term.stdout, runUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return exitNotRun
	}
	opts, err := flags.options()
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return exitNotRun
	}
	con := newConsole(term.stderr)
	opts = append(opts, outputOptions(flags, term, con, start)...)
	stopNote := context.AfterFunc(ctx, func() {
		con.Println("oneshot: stopping the job and removing its service (press Ctrl-C again to quit at once)")
	})
	defer stopNote()

	res, err := oneshot.Run(ctx, oneshot.JobSpec{Image: flags.image, Command: flags.command}, opts...)
	con.Finish()
	o := decide(res, err, context.Cause(ctx), flags.keep)
	if o.code == exitNotRun && err != nil {
		o.message = flags.explainError(err)
	} else {
		o.message = optionFlags.Replace(o.message)
	}
	if flags.json {
		printJSON(term.stdout, res, err)
	}
	if o.exited && (flags.showProgress(term.stderrIsTerminal) || flags.keep && !flags.quiet) {
		con.Println(summaryLine(res, flags.keep, time.Since(start)))
	}
	if o.message != "" {
		con.Println(o.message)
	}
	return o.code
}

// outputOptions send the job's output to the terminal (unless --json keeps
// it for the JSON), and its progress to stderr when asked for, through con
// so that the two never share a line.
func outputOptions(flags *runFlags, term terminal, con *console, start time.Time) []oneshot.Option {
	var opts []oneshot.Option
	if !flags.json {
		// Streamed, the output need not be kept too: the command's memory
		// stays flat however much the job prints.
		opts = append(opts,
			oneshot.WithStdout(con.stream(term.stdout, term.stdoutSharesStderr)),
			oneshot.WithStderr(con.stream(term.stderr, true)),
			oneshot.WithOutputLimit(-1))
	}
	if flags.showProgress(term.stderrIsTerminal) {
		opts = append(opts, oneshot.WithStatusFunc(progressPrinter(con, start)))
	}
	return opts
}

// jsonResult is what --json prints: the Result, with the output as text
// (bytes that are not UTF-8 become U+FFFD), times left out when unknown, and
// the error's message, if any. Its fields are named as the Result's are.
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
}

// printJSON prints the result of a run as one indented JSON object; a run
// that created no service has ExitCode -1 and only the Error.
func printJSON(w io.Writer, res *oneshot.Result, err error) {
	if res == nil {
		res = &oneshot.Result{ExitCode: -1}
	}
	out := jsonResult{
		ExitCode: res.ExitCode, State: res.State, Stdout: string(res.Stdout), Stderr: string(res.Stderr),
		StdoutDropped: res.StdoutDropped, StderrDropped: res.StderrDropped,
		ServiceID: res.ServiceID, ServiceName: res.ServiceName, TaskID: res.TaskID, NodeID: res.NodeID,
		Message: res.Message, Err: res.Err, Attempts: res.Attempts,
		CreatedAt: res.CreatedAt, StartedAt: res.StartedAt, FinishedAt: res.FinishedAt,
	}
	if err != nil {
		out.Error = err.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out) // stdout gone: the exit code still tells
}
