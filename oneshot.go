package oneshot

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Result is how a job ended and what it printed.
type Result struct {
	// ExitCode is the container's exit code, or -1 when the job ended
	// without one (see the error: a *TaskError, or a *StopError for a job
	// stopped before it ran). A stopped job that had started has the code
	// it exited with once stopped, e.g. 143 after SIGTERM.
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
	// CreatedAt is when the task was created, StartedAt when its container
	// started (the start event, when it ran on the node the Runner talks
	// to) or else when oneshot first saw it running (zero if never),
	// FinishedAt when it reached State: for a job whose container exited
	// on that node, the time of its die event, a little ahead of the
	// swarm's own record.
	CreatedAt, StartedAt, FinishedAt time.Time
	// CleanupErr, if set, says the job's service could not be removed (a
	// *CleanupError): it is left on the swarm for Prune. Housekeeping does
	// not change the job's outcome, so it is never part of Wait's error.
	CleanupErr error
	// Tasks holds each task's result, ordered by index: one for a job of
	// one task (the fields above then say the same), several for a job of
	// several (JobSpec.Tasks, JobSpec.Global). For several tasks the fields
	// above sum them up: ExitCode is that of the first task by index that
	// failed (0 when all succeeded), State that task's state (complete when
	// all succeeded), Attempts the tasks' attempts added up, Stdout and
	// Stderr are empty (see each task's), ServiceID is empty and
	// ServiceName is the job's name (each task's service is NAME-INDEX).
	Tasks []TaskResult
}

// TaskResult is how one task of a job ended and what it printed.
type TaskResult struct {
	// Index is the task's index, as its ONESHOT_TASK_INDEX said.
	Index int
	// ServiceID names the task's swarm service; TaskID is its (last)
	// swarm task, NodeID the node that ran it.
	ServiceID, TaskID, NodeID string
	// ExitCode is the container's exit code, or -1 when the task ended
	// without one (see Err).
	ExitCode int
	// State is the task's final state ("" when it was never started, e.g.
	// after another failed with WithFailFast).
	State TaskState
	// Stdout and Stderr hold what the task printed (its last attempt),
	// kept apart, up to JobSpec.OutputLimit bytes each.
	Stdout, Stderr []byte
	// Err says how the task ended when it did not exit 0 with its whole
	// output read, as Wait says it for a job of one task: an *ExitError, a
	// *TaskError, a *StopError, an *OutputError...; nil otherwise.
	Err error
	// StartedAt is when the task's container started, as the engine the
	// Runner talks to told (when it ran there), or else when oneshot first
	// saw the task running (zero if never); FinishedAt when it reached
	// State.
	StartedAt, FinishedAt time.Time
	// History holds every attempt of the task, oldest first: one, or more
	// with WithRetries.
	History []Attempt
}

// Attempt is one swarm task that ran (or tried to run) a job's task.
type Attempt struct {
	// TaskID is the swarm task, NodeID the node it was on.
	TaskID, NodeID string
	// ExitCode is its container's exit code, or -1 when it has none.
	ExitCode int
	// State is its last state; Message and Err the swarm's words about it.
	State        TaskState
	Message, Err string
	// Stdout and Stderr hold what it printed, up to JobSpec.OutputLimit.
	Stdout, Stderr []byte
	// CreatedAt is when the swarm made it, FinishedAt when it reached
	// State (zero if it had not ended).
	CreatedAt, FinishedAt time.Time
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
	// TaskIndex is the job's task that changed (0 for a job of one task);
	// TaskID is its swarm task, and Attempt counts its attempts from 1.
	TaskIndex int
	TaskID    string
	Attempt   int
	// State is the new state; Message and Err the swarm's words about it.
	State        TaskState
	Message, Err string
	// NodeID and NodeName say where the task is, once assigned.
	NodeID, NodeName string
	// Time is when the swarm recorded the change.
	Time time.Time
}

// Job is a job started on the swarm by Start. From Start on, its supervisor
// follows it, streams its output to the writers, stops it when its context
// is done or its timeout expires, reads the rest of its output and removes
// its service, whether or not Wait has been called yet. Wait waits for
// that and returns the job's Result, exactly once.
type Job struct {
	runner  *Runner
	spec    JobSpec
	name    string
	id      string
	started time.Time
	// taskIndex is the index of the job's task within a job of several
	// (0 otherwise); group, for such a job, runs its tasks (tasks.go).
	taskIndex int
	group     *taskGroup
	// waiter names this Job's lease on the service (waiters.go); attached
	// says the Job came from Attach, or from Start finding the job of its
	// idempotency key; deadline, if set, is when the job's own timeout
	// expires, as its labels say.
	waiter   string
	attached bool
	deadline time.Time
	timeout  string

	leaseMu      sync.Mutex
	leaseStopped bool
	// wrote says this Job wrote to its service since it was made (a lease
	// renewal, a park), so that its labels must be read before it leaves.
	wrote atomic.Bool

	// detaching is closed by Detach.
	detachOnce sync.Once
	detaching  chan struct{}

	// stopping is closed by the first request to stop the job, after
	// stopWhy is set.
	stopOnce sync.Once
	stopping chan struct{}
	stopWhy  *stopReason
	// release undoes what watches for a stop (Start's context, the
	// timeout) once the job is over.
	release []func() bool

	// done is closed when the supervisor has finished, after res and err
	// are set.
	done chan struct{}
	res  *Result
	err  error

	waitCalled atomic.Bool
}

// ServiceID returns the ID of the job's swarm service; empty for a job of
// several tasks, each of which has its own (see Result.Tasks).
func (j *Job) ServiceID() string { return j.id }

// Name returns the name of the job's swarm service; for a job of several
// tasks, the job's name, which each task's service has with "-INDEX".
func (j *Job) Name() string { return j.name }

// Attached reports whether the Job waits on a job that it did not start:
// it came from Attach, or Start found the job of its idempotency key in
// flight and attached to it instead of starting another.
func (j *Job) Attached() bool { return j.attached }

// Stop stops the job, as a cancelled context would, and returns at once:
// Wait then returns a *StopError matching ErrJobStopped once the job has
// stopped. The job's other waiters (processes that attached to it) get a
// *TaskError matching ErrJobStopped.
func (j *Job) Stop() {
	j.requestStop(stopReason{err: ErrJobStopped, by: "Job.Stop"})
}

// Detach leaves the job running on the swarm and stops waiting on it:
// the output stops streaming, this Job's lease on the service is dropped,
// and Wait returns ErrDetached. Attach (from any process) gets the job's
// Result later, while its service exists; Prune removes the service once
// the job has ended and no process waits on it. Detach returns once the
// Job has let go; it does nothing to a job that is over.
func (j *Job) Detach() {
	j.detachOnce.Do(func() { close(j.detaching) })
	<-j.done
}

// taskResult is the TaskResult of a job's one task, from its Result.
func taskResult(index int, res *Result, err error, history []Attempt) TaskResult {
	return TaskResult{Index: index, ServiceID: res.ServiceID, TaskID: res.TaskID, NodeID: res.NodeID, ExitCode: res.ExitCode,
		State: res.State, Stdout: res.Stdout, Stderr: res.Stderr, Err: err, StartedAt: res.StartedAt, FinishedAt: res.FinishedAt,
		History: history}
}

// errWaitCalled is returned by a second call to Wait.
var errWaitCalled = errors.New("oneshot: Wait was already called")

// Run starts a job on the swarm, waits for it to end, reads its output and
// removes its service: Start, then Wait, on the default Runner (made from the
// environment: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH).
//
// err is nil exactly when the job ran to exit code 0 and its whole output
// was read. A job that exits non-zero returns an *ExitError; one that ends
// without an exit code a *TaskError; one stopped because ctx is done or its
// timeout expired a *StopError matching context.Canceled or
// context.DeadlineExceeded, once it has stopped; output that did not come
// whole adds an *OutputError. The Result is non-nil whenever the service
// was created.
func Run(ctx context.Context, spec JobSpec, opts ...Option) (*Result, error) {
	r, err := defaultRunner()
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, spec, opts...)
}

// Start creates the job's service on the default Runner and returns at once,
// with the job's supervisor running; see Runner.Start.
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

// Wait waits until the job is over and returns its Result; see Run for the
// errors. When ctx is done first, the job is stopped as when the context
// given to Start is done, and Wait returns once it has stopped. A second
// call returns an error.
func (j *Job) Wait(ctx context.Context) (*Result, error) {
	return j.wait(ctx, "the context given to Wait")
}

// wait is Wait, with the words for whose context stops the job.
func (j *Job) wait(ctx context.Context, by string) (*Result, error) {
	if j.waitCalled.Swap(true) {
		return nil, errWaitCalled
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		j.requestStop(contextStop(ctx, by))
		<-j.done
	}
	return j.res, j.err
}

// requestStop asks the supervisor to stop the job; the first reason holds.
func (j *Job) requestStop(why stopReason) {
	j.stopOnce.Do(func() {
		j.stopWhy = &why
		close(j.stopping)
	})
}

// finished ends the supervisor's work: Wait may return. The job leaves
// the Runner's jobs in flight first, so that once Wait has returned the
// job is over for the Runner too (a Prune no longer counts it alive).
func (j *Job) finished() {
	for _, release := range j.release {
		release()
	}
	j.runner.unregister(j)
	close(j.done)
	j.runner.running.Done()
}

func (j *Job) clock() clock { return j.runner.clock }
