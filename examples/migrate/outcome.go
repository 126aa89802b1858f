package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/oneshot-go/oneshot"
)

// Exit codes of migrate itself, besides the migration job's own (0: all
// applied, 1: a migration failed and was rolled back).
const (
	// exitNotRun means the job could not run, as with docker run.
	exitNotRun = 125
	// exitTimeout means --timeout expired and the job was stopped, as with
	// timeout(1).
	exitTimeout = 124
	// exitSignalBase plus the signal's number means migrate was
	// interrupted (130 for Ctrl-C, 143 for SIGTERM), as shells report it.
	exitSignalBase = 128
)

// outcome is how migrate ends after running the job.
type outcome struct {
	// code is the exit code.
	code int
	// lines are printed on stderr: what went wrong, then the warnings
	// (output that did not come whole, a service left on the swarm),
	// which never change the code.
	lines []string
}

// decide maps the job's result and error to migrate's outcome; cause is
// why migrate's context was cancelled, if it was. A job that ran to an exit
// code of its own gives that code, whatever else went wrong around it; a
// job stopped early gives 124 (--timeout) or 128 plus the signal; a job
// that could not run gives 125.
func decide(res *oneshot.Result, err error, cause error) outcome {
	outcomeErrs, outputErrs := splitOutputErrors(err)
	var o outcome
	var stop *oneshot.StopError
	var sig errInterrupted
	switch {
	case errors.As(err, &stop):
		o.code = stopCode(stop, cause)
		o.lines = messages(outcomeErrs)
	case res != nil && res.ExitCode >= 0:
		o.code = res.ExitCode
		o.lines = messages(besidesExit(outcomeErrs))
	case errors.Is(err, context.Canceled) && errors.As(cause, &sig):
		o.code = sig.exitCode()
		o.lines = []string{fmt.Sprintf("migrate: %v before the migration job started", sig)}
	case err != nil:
		o.code = exitNotRun
		o.lines = messages(outcomeErrs)
	}
	o.lines = append(o.lines, warnings(res, outputErrs)...)
	return o
}

// notRunCode is the exit code when the job could not run: 128 plus the
// signal when migrate was interrupted (cause), 125 otherwise.
func notRunCode(cause error) int {
	var sig errInterrupted
	if errors.As(cause, &sig) {
		return sig.exitCode()
	}
	return exitNotRun
}

// stopCode is the exit code after the job was stopped early: 124 for the
// timeout, 128 plus the signal for an interruption, 125 otherwise.
func stopCode(stop *oneshot.StopError, cause error) int {
	var sig errInterrupted
	switch {
	case errors.Is(stop, context.DeadlineExceeded):
		return exitTimeout
	case errors.Is(stop, context.Canceled) && (errors.As(stop, &sig) || errors.As(cause, &sig)):
		return sig.exitCode()
	}
	return exitNotRun
}

// messages are the errors' messages, one a line.
func messages(errs []error) []string {
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return lines
}

// besidesExit is errs without their *ExitError: the job's exit code and
// its own output say it all.
func besidesExit(errs []error) []error {
	var kept []error
	for _, e := range errs {
		var exitErr *oneshot.ExitError
		if !errors.As(e, &exitErr) {
			kept = append(kept, e)
		}
	}
	return kept
}

// warnings are the lines that tell of the output problems and of a
// service that could not be removed.
func warnings(res *oneshot.Result, outputErrs []error) []string {
	var lines []string
	for _, e := range outputErrs {
		lines = append(lines, warningLine(e))
	}
	if res != nil && res.CleanupErr != nil {
		lines = append(lines, warningLine(res.CleanupErr))
	}
	return lines
}

// warningLine is err's message marked as a warning:
// "migrate: warning: job ...".
func warningLine(err error) string {
	return "migrate: warning: " + strings.TrimPrefix(err.Error(), "oneshot: ")
}

// splitOutputErrors separates, in err, the job's outcome (and whatever
// else kept it from running) from the problems with its output, which only
// warn.
func splitOutputErrors(err error) (outcomeErrs, outputErrs []error) {
	for _, e := range parts(err) {
		var outErr *oneshot.OutputError
		if errors.As(e, &outErr) {
			outputErrs = append(outputErrs, e)
		} else {
			outcomeErrs = append(outcomeErrs, e)
		}
	}
	return outcomeErrs, outputErrs
}

// parts returns the errors that errors.Join put together in err, nested
// joins included, or err itself; none for nil. The library's errors that
// wrap several errors (a *StopError its reason and cause, an *OutputError
// ErrOutputIncomplete and the engine's error) are one error each.
func parts(err error) []error {
	switch err.(type) {
	case nil:
		return nil
	case *oneshot.StopError, *oneshot.OutputError:
		return []error{err}
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, parts(e)...)
	}
	return out
}

// errInterrupted is the cause of a context cancelled by a signal.
type errInterrupted struct{ sig syscall.Signal }

// Error names the signal, e.g. "interrupted by SIGINT".
func (e errInterrupted) Error() string {
	return "interrupted by " + map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[e.sig]
}

// exitCode is migrate's exit code after the signal: 130 for SIGINT, 143 for
// SIGTERM.
func (e errInterrupted) exitCode() int { return exitSignalBase + int(e.sig) }
