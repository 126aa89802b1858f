package oneshot

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. A *TaskError wraps one of them, so that callers can ask
// errors.Is(err, oneshot.ErrImageNotFound) without looking at the swarm's
// messages themselves.
var (
	// ErrImageNotFound means the node could not find or pull the job's image.
	ErrImageNotFound = errors.New("image not found")
	// ErrUnschedulable means no node could take the task within the schedule
	// timeout (an unsatisfiable constraint, not enough resources...).
	ErrUnschedulable = errors.New("no suitable node")
	// ErrNodeLost means the node running the task went down or left the
	// swarm; the job's outcome is unknown.
	ErrNodeLost = errors.New("node lost")
	// ErrServiceRemoved means somebody else removed the job's service, or
	// shut its task down, before the job ended.
	ErrServiceRemoved = errors.New("job service removed")
	// ErrTaskFailed means the task failed without an exit code of its own:
	// the container could not be created or started.
	ErrTaskFailed = errors.New("task failed")
	// ErrNotSwarmManager means the Docker engine oneshot talks to is not a
	// swarm manager; the error's text says what to do.
	ErrNotSwarmManager = errors.New("engine is not a swarm manager")
	// ErrRunnerClosed means the Runner was closed: it starts no job, and
	// the jobs it had in flight were stopped (a *StopError wraps it).
	ErrRunnerClosed = errors.New("runner closed")
	// ErrManagerUnreachable means oneshot lost contact with the swarm manager
	// for longer than it is willing to wait while a job runs.
	ErrManagerUnreachable = errors.New("swarm manager unreachable")
	// ErrOutputIncomplete means part of the job's output did not reach the
	// Result or the caller's writer, or could not be checked; an
	// *OutputError wraps it and says which bytes. It comes joined with the
	// job's own outcome.
	ErrOutputIncomplete = errors.New("job output incomplete")
	// ErrServiceNotFound means FromService found no service of that name
	// or ID, FromCompose no such service in the compose file, or Attach no
	// job service of that name or ID.
	ErrServiceNotFound = errors.New("service not found")
	// ErrJobStopped means the job was stopped by Job.Stop: a *StopError
	// wraps it for the waiter that stopped it, a *TaskError for the job's
	// other waiters (`oneshot stop` in another process, say).
	ErrJobStopped = errors.New("job stopped")
	// ErrDetached is what Wait returns after Job.Detach: the job runs on,
	// and Attach gets its Result later.
	ErrDetached = errors.New("detached from the job")
)

// SourceError says why FromService or FromCompose cannot make a JobSpec
// from a service's definition: which setting, and what to do.
type SourceError struct {
	// Source is the service's name, or the compose file's path.
	Source string
	// Key is the setting at fault, as its source spells it, e.g.
	// "services.app.build" in a compose file.
	Key string
	// Problem says what is wrong with it.
	Problem string
	// Fix says what to do instead, when there is something useful to say.
	Fix string
	// Err is the underlying error, if any.
	Err error
}

func (e *SourceError) Error() string {
	msg := "oneshot: " + e.Source
	if e.Key != "" {
		msg += ": " + e.Key
	}
	msg += ": " + e.Problem
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// Unwrap returns the underlying error, if any.
func (e *SourceError) Unwrap() error { return e.Err }

// SpecError reports a JobSpec field that cannot work, found before anything
// was created on the swarm.
type SpecError struct {
	// Field is the JobSpec field at fault, e.g. "Env[2]" or "Mounts[0].Target".
	Field string
	// Problem says what is wrong with it.
	Problem string
	// Fix says what to do instead, when there is something useful to say.
	Fix string
	// Err is the underlying error, if any (e.g. reading an env file), so
	// that errors.Is(err, fs.ErrNotExist) works.
	Err error
}

func (e *SpecError) Error() string {
	msg := "oneshot: JobSpec." + e.Field + ": " + e.Problem
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// Unwrap returns the underlying error, if any.
func (e *SpecError) Unwrap() error { return e.Err }

// ExitError is returned, together with the Result, when the job's container
// exited with a non-zero code, like os/exec's ExitError.
type ExitError struct {
	// Result is the job's full result; Result.ExitCode is the code.
	Result *Result
	// Stderr holds the last bytes the job wrote to stderr (up to 4 KiB),
	// so that the error message can say why without the caller keeping
	// the whole output.
	Stderr []byte
}

// ExitCode returns the job's exit code.
func (e *ExitError) ExitCode() int { return e.Result.ExitCode }

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("oneshot: job %s exited with code %d", e.Result.ServiceName, e.Result.ExitCode)
	if line := lastLine(e.Stderr); line != "" {
		msg += ": " + line
	}
	return msg
}

// TaskError reports a job whose task ended without an exit code of its own:
// rejected, failed to start, lost with its node, removed, or never scheduled.
// It wraps one of the sentinel errors (ErrImageNotFound, ErrUnschedulable,
// ErrNodeLost, ErrServiceRemoved, ErrTaskFailed).
type TaskError struct {
	// Kind is the sentinel error that classifies the failure.
	Kind error
	// ServiceName and TaskID name the job and its last task.
	ServiceName, TaskID string
	// NodeID is the node the task was on, if it got that far.
	NodeID string
	// State is the task's last known state.
	State TaskState
	// Message is the swarm's status message and Err its error text, as
	// `docker service ps --no-trunc` shows them.
	Message, Err string
}

func (e *TaskError) Error() string {
	msg := fmt.Sprintf("oneshot: job %s: %v (task %s %s", e.ServiceName, e.Kind, shortID(e.TaskID), e.State)
	if e.NodeID != "" {
		msg += " on node " + shortID(e.NodeID)
	}
	msg += ")"
	if e.Err != "" {
		msg += ": " + e.Err
	} else if e.Message != "" {
		msg += ": " + e.Message
	}
	if hint := e.hint(); hint != "" {
		msg += "; " + hint
	}
	return msg
}

// Unwrap returns the sentinel error Kind.
func (e *TaskError) Unwrap() error { return e.Kind }

func (e *TaskError) hint() string {
	switch e.Kind {
	case ErrImageNotFound:
		return "build or pull the image on every node that may run the job, or push it to a registry they can reach (WithRegistryAuth for a private one)"
	case ErrUnschedulable:
		return "check the job's constraints and resources against `docker node ls`, or give it a longer WithScheduleTimeout"
	case ErrNodeLost:
		return "the job's outcome is unknown; it may be run again"
	}
	return ""
}

// CleanupError reports that the job's service could not be removed. It is
// housekeeping, not the job's outcome: it goes to Result.CleanupErr and the
// Runner's logger, never into Wait's error.
type CleanupError struct {
	// ServiceID is the service that may still be on the swarm.
	ServiceID string
	// Err is what the engine said.
	Err error
}

func (e *CleanupError) Error() string {
	return fmt.Sprintf("oneshot: remove service %s: %v (remove it with `docker service rm %s` or oneshot.Prune)", e.ServiceID, e.Err, e.ServiceID)
}

// Unwrap returns the engine's error.
func (e *CleanupError) Unwrap() error { return e.Err }

// StopError reports a job that oneshot stopped before it ended on its own:
// its context was done, its timeout expired, or its Runner was closed. The
// job was asked to stop (SIGTERM, then SIGKILL after its stop grace period)
// and waited for, its output read to the end: the Result holds all it
// printed, and its exit code if it had one. It matches exactly one of
// context.Canceled, context.DeadlineExceeded and ErrRunnerClosed: what
// stopped the job first.
type StopError struct {
	// Job names the job's service.
	Job string
	// Reason is context.Canceled, context.DeadlineExceeded, ErrRunnerClosed
	// or ErrJobStopped; By says whose: "the context given to Run" (or to
	// Start, Wait or Attach), "its timeout of 2m0s", "Runner.Close",
	// "Job.Stop".
	Reason error
	By     string
	// Cause is the context's cause (context.Cause), when it says more
	// than Reason.
	Cause error
	// Result is the stopped job's Result.
	Result *Result
	// StillRunning says the job's task had not ended when oneshot gave up
	// waiting for it (its stop grace period and a margin), or could not be
	// asked to stop: it may still run, and Problem says why.
	StillRunning bool
	Problem      string
}

func (e *StopError) Error() string {
	msg := fmt.Sprintf("oneshot: job %s stopped: %s", e.Job, e.why())
	switch {
	case e.StillRunning:
		msg += "; it may still be running: " + e.Problem
	case e.Result != nil && len(e.Result.Tasks) > 1:
		msg += "; " + tasksStopped(e.Result.Tasks)
	case e.Result != nil && e.Result.ExitCode >= 0:
		msg += fmt.Sprintf("; it exited with code %d", e.Result.ExitCode)
	case e.Result != nil && e.Result.StartedAt.IsZero():
		msg += "; it had not started"
	}
	return msg
}

func (e *StopError) why() string {
	switch {
	case errors.Is(e.Reason, ErrRunnerClosed):
		return "its Runner was closed"
	case errors.Is(e.Reason, ErrTaskFailed):
		return e.By
	case errors.Is(e.Reason, ErrJobStopped):
		return "by " + e.By
	case e.Cause != nil:
		return fmt.Sprintf("%s is done: %v (%v)", e.By, e.Reason, e.Cause)
	case strings.HasPrefix(e.By, "its timeout"):
		return e.By + " expired"
	}
	return fmt.Sprintf("%s is done: %v", e.By, e.Reason)
}

// tasksStopped says how the tasks of a stopped job of several ended.
func tasksStopped(tasks []TaskResult) string {
	var ended, stopped, notStarted int
	for _, t := range tasks {
		var stop *StopError
		switch {
		case t.State == "":
			notStarted++
		case errors.As(t.Err, &stop):
			stopped++
		default:
			ended++
		}
	}
	return fmt.Sprintf("of its %d tasks, %d had ended, %d were stopped, %d never started", len(tasks), ended, stopped, notStarted)
}

// Unwrap returns Reason, and Cause when it is not a context error.
func (e *StopError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Cause}
}

// TasksError is Wait's error for a job of several tasks of which some did
// not succeed (or whose output did not come whole). errors.As finds the
// error of the first such task by index first: an *ExitError, a
// *TaskError... whose Result names the task (Result.Tasks[0].Index).
type TasksError struct {
	// Job is the job's name.
	Job string
	// Count is how many tasks the job has.
	Count int
	// Errs holds each task's error by index, nil for those that succeeded.
	Errs []error
}

// maxTaskErrorsShown bounds the tasks whose errors the message spells out.
const maxTaskErrorsShown = 3

func (e *TasksError) Error() string {
	var shown []string
	failed := 0
	for i, err := range e.Errs {
		if err == nil {
			continue
		}
		failed++
		if len(shown) < maxTaskErrorsShown {
			shown = append(shown, fmt.Sprintf("task %d: %v", i, err))
		}
	}
	msg := fmt.Sprintf("oneshot: job %s: %d of %d tasks did not succeed: %s", e.Job, failed, e.Count, strings.Join(shown, "; "))
	if failed > len(shown) {
		msg += fmt.Sprintf("; and %d more (see Result.Tasks)", failed-len(shown))
	}
	return msg
}

// Unwrap returns the tasks' errors, in the order of their indexes.
func (e *TasksError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// OutputProblem says what is wrong with a part of a job's output.
type OutputProblem int

// The problems an OutputError reports.
const (
	// OutputLost: neither the writer nor the Result has these bytes; the
	// engine discarded them before oneshot could read them (its log driver
	// rotated them away), or the read failed (Err).
	OutputLost OutputProblem = iota + 1
	// OutputLate: the Result has these bytes but the writer missed them:
	// the engine's live log follow skipped them (it does when the log
	// rotates faster than it reads), and the final read came too late to
	// write them in their place.
	OutputLate
	// OutputRepeated: the writer got these bytes although the job's log
	// does not have them there (the engine's follow served them twice);
	// the Result is exact.
	OutputRepeated
	// OutputUnchecked: these bytes were read while the job ran, but the
	// engine had rotated them out of the job's log by its end, so they
	// could not be checked against it: the follow may have skipped some.
	OutputUnchecked
	// OutputWriterFailed: the caller's writer returned Err and got nothing
	// more; the Result has everything.
	OutputWriterFailed
)

// OutputError reports a part of a job's output that did not reach the
// Result or the caller's writer whole, or could not be checked. It wraps
// ErrOutputIncomplete. Each problem is its own OutputError, joined with
// the job's outcome.
type OutputError struct {
	// Job names the job's service; Stream is "stdout" or "stderr".
	Job, Stream string
	// Problem says what happened to the bytes.
	Problem OutputProblem
	// Offset is where they start in the stream, Size how many there are,
	// or -1 when nobody can tell (the engine does not say how much it
	// discarded).
	Offset, Size int64
	// After and Before, when set, bound the times at which the job logged
	// the bytes that may be lost.
	After, Before time.Time
	// Err is the engine's or the writer's error, if any.
	Err error
}

func (e *OutputError) Error() string {
	msg := fmt.Sprintf("oneshot: job %s: %v: %s", e.Job, ErrOutputIncomplete, e.what())
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if hint := e.hint(); hint != "" {
		msg += "; " + hint
	}
	return msg
}

func (e *OutputError) what() string {
	bytes := fmt.Sprintf("%d bytes", e.Size)
	if e.Size < 0 {
		bytes = "an unknown number of bytes"
	}
	at := fmt.Sprintf("of %s from byte %d on", e.Stream, e.Offset)
	switch e.Problem {
	case OutputLate:
		return fmt.Sprintf("the writer missed %s %s (the Result has them): the engine's live log follow skipped them", bytes, at)
	case OutputRepeated:
		return fmt.Sprintf("the writer got %s %s twice: the engine's live log follow served them again (the Result is exact)", bytes, at)
	case OutputUnchecked:
		msg := fmt.Sprintf("the engine rotated the start of the job's log away before its end, so what %s logged", e.Stream)
		if !e.Before.IsZero() {
			msg += " before " + e.Before.Format(time.RFC3339Nano)
		}
		msg += fmt.Sprintf(" could not be checked: its first %d bytes were read while the job ran (the engine's follow may have skipped some)", e.Size)
		if !e.After.IsZero() {
			msg += fmt.Sprintf(", and what it logged after %s is lost", e.After.Format(time.RFC3339Nano))
		} else {
			msg += ", and more may be lost"
		}
		return msg
	case OutputWriterFailed:
		return fmt.Sprintf("the %s writer failed after %d bytes and got nothing more (the Result has everything)", e.Stream, e.Offset)
	}
	return fmt.Sprintf("%s %s are lost", bytes, at)
}

func (e *OutputError) hint() string {
	switch e.Problem {
	case OutputLate, OutputUnchecked, OutputLost:
		if e.Err == nil {
			return "the node's log driver keeps only so much of a job's output (json-file's max-size and max-file); keep all of it with WithLogDriver, e.g. json-file with max-size=500m"
		}
	}
	return ""
}

// Unwrap returns ErrOutputIncomplete, and Err if set.
func (e *OutputError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrOutputIncomplete}
	}
	return []error{ErrOutputIncomplete, e.Err}
}

func lastLine(b []byte) string {
	s := strings.TrimRight(string(b), "\r\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	const max = 200
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
