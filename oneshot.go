package oneshot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// Result is how a job ended and what it printed.
type Result struct {
	// ExitCode is the container's exit code, or -1 when the job ended
	// without one (see the error: *TaskError, timeout, cancellation).
	ExitCode int
	// Stdout and Stderr hold the job's output, kept apart, up to
	// JobSpec.OutputLimit bytes each (the beginning of the output).
	Stdout, Stderr []byte
	// StdoutDropped and StderrDropped count the bytes beyond OutputLimit
	// that were streamed to the writers but not kept here.
	StdoutDropped, StderrDropped int64
	// ServiceID and ServiceName name the job's swarm service.
	ServiceID, ServiceName string
	// TaskID is the job's (last) task, NodeID the node that ran it.
	TaskID, NodeID string
	// State is the task's final state.
	State TaskState
	// Message and Err are the swarm's last status message and error text.
	Message, Err string
	// Attempts counts the tasks the job took (1 unless retried).
	Attempts int
	// CreatedAt is when the task was created, StartedAt when oneshot first
	// saw it running (zero if never), FinishedAt when it reached State.
	CreatedAt, StartedAt, FinishedAt time.Time
}

// TaskState is a swarm task's state, as `docker service ps` shows it.
type TaskState string

// The task states a Result or TaskStatus can report.
const (
	StateNew       TaskState = "new"
	StatePending   TaskState = "pending"
	StateAssigned  TaskState = "assigned"
	StateAccepted  TaskState = "accepted"
	StatePreparing TaskState = "preparing"
	StateReady     TaskState = "ready"
	StateStarting  TaskState = "starting"
	StateRunning   TaskState = "running"
	StateComplete  TaskState = "complete"
	StateFailed    TaskState = "failed"
	StateRejected  TaskState = "rejected"
	StateShutdown  TaskState = "shutdown"
	StateRemove    TaskState = "remove"
	StateOrphaned  TaskState = "orphaned"
)

// Terminal reports whether a task in state s has ended for good.
func (s TaskState) Terminal() bool {
	switch s {
	case StateComplete, StateFailed, StateRejected, StateShutdown, StateRemove, StateOrphaned:
		return true
	}
	return false
}

// TaskStatus is one state change of a job's task, as given to
// JobSpec.OnStatus.
type TaskStatus struct {
	// TaskID is the task; Attempt counts from 1.
	TaskID  string
	Attempt int
	// State is the new state; Message and Err the swarm's words about it.
	State        TaskState
	Message, Err string
	// NodeID and NodeName say where the task is, once assigned.
	NodeID, NodeName string
	// Time is when the swarm recorded the change.
	Time time.Time
}

// Job is a job started on the swarm. Wait for it exactly once: Wait removes
// its service (unless JobSpec.Keep). A Job whose Wait is never called leaves
// its service behind.
type Job struct {
	runner  *Runner
	spec    JobSpec
	name    string
	id      string
	started time.Time
	// ctx is done when the job must stop: Start's context is done or the
	// job's own Timeout expired.
	ctx    context.Context
	cancel context.CancelFunc
	watch  *jobWatch

	waitOnce sync.Once
}

// ServiceID returns the ID of the job's swarm service.
func (j *Job) ServiceID() string { return j.id }

// Name returns the name of the job's swarm service.
func (j *Job) Name() string { return j.name }

// errWaitCalled is returned by a second call to Wait.
var errWaitCalled = errors.New("oneshot: Wait was already called")

// Run starts a job on the swarm, waits for it to end, reads its output and
// removes its service: Start, then Wait, on the default Runner (made from the
// environment: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH).
//
// A job that exits non-zero returns its Result and an *ExitError; a job that
// ends without an exit code returns a *TaskError; an expired timeout or
// cancelled context returns an error matching context.DeadlineExceeded or
// context.Canceled. The Result is non-nil whenever the service was created.
func Run(ctx context.Context, spec JobSpec, opts ...Option) (*Result, error) {
	r, err := defaultRunner()
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, spec, opts...)
}

// Start creates the job's service on the default Runner and returns at once.
// The job stops when ctx is done, as with exec.CommandContext; call Wait to
// get its Result and remove its service.
func Start(ctx context.Context, spec JobSpec, opts ...Option) (*Job, error) {
	r, err := defaultRunner()
	if err != nil {
		return nil, err
	}
	return r.Start(ctx, spec, opts...)
}

// Prune removes the job services that oneshot left on the swarm (WithKeep,
// or a process that died) once their tasks have ended, using the default
// Runner; see Runner.Prune.
func Prune(ctx context.Context, opts ...PruneOption) ([]PrunedService, error) {
	r, err := defaultRunner()
	if err != nil {
		return nil, err
	}
	return r.Prune(ctx, opts...)
}

// Wait waits for the job to end, reads its output, removes its service
// (unless JobSpec.Keep) and returns its Result; see Run for the errors. When
// ctx is done, or the context given to Start, or the job's Timeout expires,
// the job is stopped: its service is removed with a bounded context of its
// own, and the Result holds what the job printed so far. A failure to remove
// the service comes as a *CleanupError joined with the job's outcome.
func (j *Job) Wait(ctx context.Context) (*Result, error) {
	first := false
	j.waitOnce.Do(func() { first = true })
	if !first {
		return nil, errWaitCalled
	}
	defer j.cancel()
	ctx, stop := mergeContexts(ctx, j.ctx)
	defer stop()

	obs := newObserver(j)
	v, waitErr := j.awaitEnd(ctx, obs)
	res := j.result(v, obs)
	j.runner.log.Debug("oneshot: job ended", "service", j.name, "state", res.State, "exit_code", res.ExitCode,
		"node", res.NodeID, "local_exit_event", obs.localExit, "waited", time.Since(j.started), "err", waitErr)
	stderrTail, logErr := j.collectLogs(ctx, v, res, obs)
	cleanupErr := j.cleanup(ctx)
	return res, joinErrors(j.outcome(v, res, waitErr, stderrTail), logErr, cleanupErr)
}

// mergeContexts returns a context done when either a or b is done, with the
// cause of the one that was done first.
func mergeContexts(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(a)
	stop := context.AfterFunc(b, func() { cancel(context.Cause(b)) })
	return ctx, func() { stop(); cancel(nil) }
}

// result builds the job's Result from the task that decided its outcome.
func (j *Job) result(v verdict, obs *observer) *Result {
	res := &Result{ExitCode: -1, ServiceID: j.id, ServiceName: j.name, Attempts: v.attempts, StartedAt: obs.startedAt}
	t := v.task
	if t == nil {
		return res
	}
	res.TaskID, res.NodeID = t.ID, t.NodeID
	res.State = TaskState(t.Status.State)
	res.Message, res.Err = t.Status.Message, t.Status.Err
	res.CreatedAt = t.CreatedAt
	if res.State.Terminal() {
		res.FinishedAt = t.Status.Timestamp
		if v.done && v.kind == nil && t.Status.ContainerStatus != nil {
			res.ExitCode = t.Status.ContainerStatus.ExitCode
		}
	}
	return res
}

// outcome is the job's error: the wait's own, the task's, or its exit code.
func (j *Job) outcome(v verdict, res *Result, waitErr error, stderrTail []byte) error {
	switch {
	case waitErr != nil:
		return waitErr
	case v.kind != nil:
		te := &TaskError{Kind: v.kind, ServiceName: j.name, State: res.State, Message: res.Message, Err: res.Err}
		if v.task != nil {
			te.TaskID, te.NodeID = v.task.ID, v.task.NodeID
		}
		if v.reason != "" {
			te.Err = strings.TrimPrefix(te.Err+"; "+v.reason, "; ")
		}
		return te
	case res.ExitCode != 0:
		return &ExitError{Result: res, Stderr: stderrTail}
	}
	return nil
}

// joinErrors returns nil, the one error given, or all of them joined.
func joinErrors(errs ...error) error {
	var kept []error
	for _, err := range errs {
		if err != nil {
			kept = append(kept, err)
		}
	}
	if len(kept) == 1 {
		return kept[0]
	}
	return errors.Join(kept...)
}
