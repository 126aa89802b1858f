package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
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
	outcomeErrs, outputErrs := jobexit.SplitOutputErrors(err)
	o := outcome{warnings: jobexit.Warnings("oneshot: warning: ", res, outputErrs)}
	var stop *oneshot.StopError
	var sig jobexit.Interrupted
	switch {
	case errors.As(err, &stop):
		o.decideStop(stop, cause, kept)
	case res != nil && res.ExitCode >= 0:
		o.code, o.exited = res.ExitCode, true
		o.message = strings.Join(jobexit.Messages(jobexit.WithoutExitErrors(outcomeErrs)), "\n")
	case errors.Is(err, context.Canceled) && errors.As(cause, &sig):
		o.code = sig.ExitCode()
		o.message = fmt.Sprintf("oneshot: %v before the job started; nothing was left on the swarm", sig)
	case err != nil:
		o.code, o.refusal = jobexit.NotRun, err
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
	o.code, o.stillRunning = jobexit.StopCode(stop, cause), stop.StillRunning
	switch o.code {
	case jobexit.NotRun:
		// Not the command's doing (it never closes its Runner): the
		// library's own words.
		o.message = joinFacts(stop.Error(), serviceFate(stop.Result, kept))
		return
	case jobexit.Timeout:
		o.stopped = stop.By + " expired"
	default: // a signal's code
		sig, _ := jobexit.Interruption(stop, cause)
		o.stopped = sig.Error()
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
