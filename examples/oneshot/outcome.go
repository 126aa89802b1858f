package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/oneshot-go/oneshot"
)

// Exit codes of `oneshot run` itself, besides the job's own.
const (
	// exitNotRun means oneshot could not run the job, as with docker run.
	exitNotRun = 125
	// exitTimeout means --timeout expired and the job was stopped, as with
	// timeout(1).
	exitTimeout = 124
	// exitSignalBase plus the signal's number means the user stopped the
	// job (130 for Ctrl-C, 143 for SIGTERM), as shells report it.
	exitSignalBase = 128
)

// defaultStopTimeout is the stop grace period of a job run without
// --stop-timeout: the engine's own.
const defaultStopTimeout = 10 * time.Second

// outcome is how `oneshot run` ends.
type outcome struct {
	// code is the exit code.
	code int
	// message, if set, is printed on stderr: what became of the job, when
	// its exit code does not say it all.
	message string
	// refusal, if set, is why oneshot could not run the job (code 125):
	// the caller explains it in the words of the flags.
	refusal error
	// warnings are printed on stderr, one a line, and never change the
	// code: output that did not come whole, a service left on the swarm.
	warnings []string
	// exited says the job ran to an exit code of its own: it was not
	// stopped.
	exited bool
	// stopped, if set, says what stopped the job before its end, e.g.
	// "its timeout of 2s expired" or "interrupted by SIGINT".
	stopped string
	// stillRunning says the stopped job's end could not be seen: it may
	// still run.
	stillRunning bool
}

// decide maps Run's result and error to the command's outcome; cause is
// why the command's context was cancelled, if it was; kept says --keep.
//
// A job stopped early gives 124 (--timeout) or 128 plus the signal (Ctrl-C,
// SIGTERM), whatever code it exited with once stopped. A job that exited on
// its own gives its own exit code, whatever else went wrong around it (its
// output not wholly read, its service not removed): those are warnings. A
// job that could not run gives 125.
func decide(res *oneshot.Result, err error, cause error, kept bool) outcome {
	outcomeErrs, outputErrs := splitOutputErrors(err)
	o := outcome{warnings: warnings(res, outputErrs)}
	var stop *oneshot.StopError
	var sig errInterrupted
	switch {
	case errors.As(err, &stop):
		o.decideStop(stop, cause, kept)
	case res != nil && res.ExitCode >= 0:
		o.code, o.exited, o.message = res.ExitCode, true, besidesExit(outcomeErrs)
	case errors.Is(err, context.Canceled) && errors.As(cause, &sig):
		o.code = sig.exitCode()
		o.message = fmt.Sprintf("oneshot: %v before the job started; nothing was left on the swarm", sig)
	case err != nil:
		o.code, o.refusal = exitNotRun, err
		if len(outcomeErrs) == 1 {
			o.refusal = outcomeErrs[0]
		} else if len(outcomeErrs) > 1 {
			o.refusal = errors.Join(outcomeErrs...)
		}
	}
	return o
}

// decideStop is the outcome of a job that oneshot stopped before its end:
// the exit code says what stopped it, the message what became of the job
// and its service.
func (o *outcome) decideStop(stop *oneshot.StopError, cause error, kept bool) {
	var sig errInterrupted
	interrupted := errors.As(stop, &sig) || errors.As(cause, &sig)
	o.stillRunning = stop.StillRunning
	switch {
	case errors.Is(stop, context.DeadlineExceeded):
		o.code, o.stopped = exitTimeout, stop.By+" expired"
	case errors.Is(stop, context.Canceled) && interrupted:
		o.code, o.stopped = sig.exitCode(), sig.Error()
	default:
		// Not the command's doing (it never closes its Runner): the
		// library's own words.
		o.code, o.message = exitNotRun, joinFacts(stop.Error(), serviceFate(stop.Result, kept))
		return
	}
	o.message = joinFacts(fmt.Sprintf("oneshot: job %s stopped: %s", stop.Job, o.stopped), jobFate(stop), serviceFate(stop.Result, kept))
}

// jobFate says what became of a stopped job: it exited, it never started,
// or it may still run.
func jobFate(stop *oneshot.StopError) string {
	res := stop.Result
	switch {
	case stop.StillRunning:
		return "it may still be running: " + stop.Problem
	case res == nil:
		return ""
	case res.ExitCode >= 0:
		return fmt.Sprintf("it exited with code %d", res.ExitCode)
	case res.StartedAt.IsZero():
		return "it had not started"
	}
	return ""
}

// serviceFate says what became of a stopped job's service; nothing when
// it could not be removed (a warning says so).
func serviceFate(res *oneshot.Result, kept bool) string {
	switch {
	case res == nil || res.CleanupErr != nil:
		return ""
	case kept:
		return "its service was kept: 'oneshot prune' removes it"
	}
	return "its service was removed"
}

// joinFacts joins the facts that are not empty with "; ".
func joinFacts(facts ...string) string {
	var kept []string
	for _, f := range facts {
		if f != "" {
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, "; ")
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
// "oneshot: warning: job ...".
func warningLine(err error) string {
	return "oneshot: warning: " + strings.TrimPrefix(err.Error(), "oneshot: ")
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

// besidesExit is the message of errs without their *ExitError, which needs
// no words (the exit code says it), one error a line.
func besidesExit(errs []error) string {
	var lines []string
	for _, e := range errs {
		var exitErr *oneshot.ExitError
		if !errors.As(e, &exitErr) {
			lines = append(lines, e.Error())
		}
	}
	return strings.Join(lines, "\n")
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

// exitCode is the command's exit code after the signal, as shells report
// it: 130 for SIGINT, 143 for SIGTERM.
func (e errInterrupted) exitCode() int { return exitSignalBase + int(e.sig) }
