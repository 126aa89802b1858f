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
	if res != nil && len(res.Tasks) > 1 {
		return decideTasks(res, err, cause, kept)
	}
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
	if errors.Is(stop.Reason, oneshot.ErrJobStopped) {
		o.decideStopped(stop, kept)
		return
	}
	o.code, o.stillRunning = jobexit.StopCode(stop, cause), stop.StillRunning
	fate, services := jobFate(stop), serviceFate(stop.Result, kept)
	if res := stop.Result; res != nil && len(res.Tasks) > 1 {
		fate, services = tasksFate(stop), tasksServiceFate(res, kept)
	}
	switch o.code {
	case jobexit.NotRun:
		// Not the command's doing (it never closes its Runner): the
		// library's own words.
		o.message = joinFacts(stop.Error(), services)
		return
	case jobexit.Timeout:
		o.stopped = stop.By + " expired"
	default: // a signal's code
		sig, _ := jobexit.Interruption(stop, cause)
		o.stopped = sig.Error()
	}
	o.message = joinFacts(fmt.Sprintf("oneshot: job %s stopped: %s", stop.Job, o.stopped), fate, services)
}

// decideStopped is the outcome of `oneshot stop`: the job's own exit code
// once stopped (e.g. 143), or 125 when it never ran.
func (o *outcome) decideStopped(stop *oneshot.StopError, kept bool) {
	o.code, o.stillRunning = jobexit.NotRun, stop.StillRunning
	if res := stop.Result; res != nil && res.ExitCode >= 0 {
		o.code = res.ExitCode
	}
	o.message = joinFacts(fmt.Sprintf("oneshot: job %s stopped (oneshot stop)", stop.Job), jobFate(stop), serviceFate(stop.Result, kept))
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

// decideTasks is decide for a job of several tasks. A job stopped early
// (--timeout, Ctrl-C) ends as a job of one task does. Otherwise the
// command exits with the code of the first task, by index, that did not
// succeed of its own (not stopped by --fail-fast), 0 when all succeeded,
// and 125 when that task got no exit code (it could not run: the
// refusal is its error). The errors of the other tasks that got no exit
// code follow, a few of them; the table has every task's.
func decideTasks(res *oneshot.Result, err error, cause error, kept bool) outcome {
	stop, rest := groupStop(err)
	outcomeErrs, outputErrs := jobexit.SplitOutputErrors(rest)
	o := outcome{warnings: tasksWarnings(res, outputErrs)}
	if stop != nil {
		o.decideStop(stop, cause, kept)
		return o
	}
	first := firstOwnFailure(res.Tasks)
	switch {
	case first < 0:
		o.code, o.exited = 0, true
	case res.Tasks[first].ExitCode >= 0:
		o.code, o.exited = res.Tasks[first].ExitCode, true
	default:
		o.code, o.refusal = jobexit.NotRun, errors.Join(taskOutcomeErrors(res.Tasks[first])...)
		if o.refusal == nil {
			o.refusal = fmt.Errorf("oneshot: job %s: task %d ended without an exit code", res.ServiceName, first)
		}
		return o
	}
	o.message = strings.Join(tasksMessages(outcomeErrs), "\n")
	return o
}

// groupStop finds, in the error of a job of several tasks, the job's
// *StopError (the stop that ended its tasks, as --timeout or Ctrl-C), and
// returns the rest: the *TasksError, with each task's error.
func groupStop(err error) (*oneshot.StopError, error) {
	switch e := err.(type) {
	case *oneshot.StopError:
		return e, nil
	case *oneshot.TasksError:
		return nil, e
	case interface{ Unwrap() []error }:
		var stop *oneshot.StopError
		var rest []error
		for _, part := range e.Unwrap() {
			if s, ok := part.(*oneshot.StopError); ok && stop == nil {
				stop = s
				continue
			}
			rest = append(rest, part)
		}
		return stop, errors.Join(rest...)
	}
	return nil, err
}

// maxTaskMessages bounds the tasks' errors printed after the table.
const maxTaskMessages = 3

// tasksMessages are the messages of the tasks' errors that the exit code
// and the table do not say all of: not a task's exit code, not a stop
// (the table says what stopped each task); a few, then how many more.
func tasksMessages(errs []error) []string {
	var kept []error
	for _, e := range jobexit.WithoutExitErrors(errs) {
		var stop *oneshot.StopError
		if !errors.As(e, &stop) {
			kept = append(kept, e)
		}
	}
	lines := jobexit.Messages(kept[:min(len(kept), maxTaskMessages)])
	if more := len(kept) - maxTaskMessages; more > 0 {
		lines = append(lines, fmt.Sprintf("oneshot: and %d more tasks' errors: see the table above, or --json", more))
	}
	return lines
}

// tasksWarnings are the warnings of a job of several tasks: each task's
// output problems, then each service that could not be removed, one a line.
func tasksWarnings(res *oneshot.Result, outputErrs []error) []string {
	lines := jobexit.Warnings("oneshot: warning: ", nil, outputErrs)
	for _, e := range jobexit.Parts(res.CleanupErr) {
		lines = append(lines, jobexit.Warnings("oneshot: warning: ", &oneshot.Result{CleanupErr: e}, nil)...)
	}
	return lines
}

// tasksFate says what became of the tasks of a stopped job when the table
// does not: that some may still be running.
func tasksFate(stop *oneshot.StopError) string {
	if stop.StillRunning {
		return "some of its tasks may still be running: " + stop.Problem
	}
	return ""
}

// tasksServiceFate says what became of the services of a stopped job's
// tasks; nothing when some could not be removed (warnings say so).
func tasksServiceFate(res *oneshot.Result, kept bool) string {
	switch {
	case res.CleanupErr != nil:
		return ""
	case kept:
		return "its tasks' services were kept: 'oneshot prune' removes them"
	}
	return "its tasks' services were removed"
}
