// Package jobexit is what the example commands (oneshot run, migrate) share
// to end after a oneshot job: the exit codes of their own, the signal
// handling that stops the job on Ctrl-C, and the sorting of the error Run
// returns into what went wrong and what only warns.
//
// A command exits with the job's own exit code when the job ran to its
// end, whatever else went wrong around it. Otherwise, as docker run and
// timeout(1) do, it exits:
//
//	124  the job's --timeout expired and it was stopped
//	125  the job could not run
//	130  Ctrl-C (SIGINT) stopped it; 143 for SIGTERM (128 plus the signal)
package jobexit

import (
	"context"
	"errors"
	"strings"

	"github.com/oneshot-go/oneshot"
)

// The exit codes of a command itself, besides the job's own.
const (
	// Timeout means the job's time bound expired and it was stopped, as
	// with timeout(1).
	Timeout = 124
	// NotRun means the command could not run the job, as with docker run.
	NotRun = 125
	// SignalBase plus the signal's number means a signal interrupted the
	// command (130 for Ctrl-C, 143 for SIGTERM), as shells report it.
	SignalBase = 128
)

// StopCode is the exit code after the job was stopped before its end:
// Timeout when its time bound expired, the signal's code when a signal
// interrupted the command (the stop's cause says which, else cause, the
// cause of the command's context), NotRun when anything else stopped it.
func StopCode(stop *oneshot.StopError, cause error) int {
	sig, interrupted := Interruption(stop, cause)
	switch {
	case errors.Is(stop, context.DeadlineExceeded):
		return Timeout
	case errors.Is(stop, context.Canceled) && interrupted:
		return sig.ExitCode()
	}
	return NotRun
}

// SplitOutputErrors separates, in Run's error, the job's outcome (and
// whatever else kept it from running) from the problems with its output
// (*oneshot.OutputError), which only warn.
func SplitOutputErrors(err error) (outcomeErrs, outputErrs []error) {
	for _, e := range Parts(err) {
		var outErr *oneshot.OutputError
		if errors.As(e, &outErr) {
			outputErrs = append(outputErrs, e)
		} else {
			outcomeErrs = append(outcomeErrs, e)
		}
	}
	return outcomeErrs, outputErrs
}

// Parts returns the errors that errors.Join put together in err, nested
// joins included, or err itself; none for nil. The library's errors that
// wrap several errors (a *StopError its reason and cause, an *OutputError
// ErrOutputIncomplete and the engine's error) are one error each.
func Parts(err error) []error {
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
		out = append(out, Parts(e)...)
	}
	return out
}

// WithoutExitErrors is errs without their *oneshot.ExitError, which needs
// no words: the job's exit code and its own output say it all.
func WithoutExitErrors(errs []error) []error {
	var kept []error
	for _, e := range errs {
		var exitErr *oneshot.ExitError
		if !errors.As(e, &exitErr) {
			kept = append(kept, e)
		}
	}
	return kept
}

// Messages are the errors' messages, one a line.
func Messages(errs []error) []string {
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return lines
}

// Warnings are the lines that tell of the output problems and of a job
// service that could not be removed, each starting with prefix (e.g.
// "migrate: warning: ") in place of the library's "oneshot: ".
func Warnings(prefix string, res *oneshot.Result, outputErrs []error) []string {
	var lines []string
	for _, e := range outputErrs {
		lines = append(lines, warningLine(prefix, e))
	}
	if res != nil && res.CleanupErr != nil {
		lines = append(lines, warningLine(prefix, res.CleanupErr))
	}
	return lines
}

// warningLine is err's message after prefix: "migrate: warning: job ...".
func warningLine(prefix string, err error) string {
	return prefix + strings.TrimPrefix(err.Error(), "oneshot: ")
}
