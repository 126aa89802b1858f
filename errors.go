package oneshot

import (
	"errors"
	"fmt"
	"strings"
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
	// ErrRunnerClosed means the Runner was closed while the job was in flight.
	ErrRunnerClosed = errors.New("runner closed")
	// ErrManagerUnreachable means oneshot lost contact with the swarm manager
	// for longer than it is willing to wait while a job runs.
	ErrManagerUnreachable = errors.New("swarm manager unreachable")
	// ErrOutputIncomplete means the engine discarded part of the job's
	// output before oneshot could read it: the node's log driver rotated it
	// away (json-file's max-size and max-file). It comes joined with the
	// job's own outcome; WithLogDriver keeps more.
	ErrOutputIncomplete = errors.New("job output incomplete")
)

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

// CleanupError reports that the job's service could not be removed. It comes
// joined with the job's own outcome (errors.Join), never in place of it.
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
