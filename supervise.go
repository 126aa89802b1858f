package oneshot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
)

// A job's life, from the moment Start has created its service to its
// Result, is one goroutine: its supervisor, started by Start whether or not
// Wait is ever called (as exec.Cmd.Start starts copying output and watching
// the context). It follows the job's task on the Runner's shared watcher
// (wait.go), streams its output to the writers as it comes (logs.go),
// stops it when it must stop, reads the rest of its output, removes its
// service, and only then publishes the outcome that Wait returns:
//
//	awaitEnd      until the task ends, or a stop is asked for
//	stopTask      park the service, wait until the task has ended
//	finishOutput  the final read of the log: every byte once, or what is missing
//	clearService  remove the service (or keep it, stopped)

// defaultStopGracePeriod is the engine's own, used when the spec sets none;
// stopMargin is how long past the grace period oneshot waits for a stopped
// task to be reported ended before it says the job may still run.
const (
	defaultStopGracePeriod = 10 * time.Second
	stopMargin             = 10 * time.Second
)

// managerUnreachableLimit is how long the supervisor keeps trying while
// every poll of the manager fails (a manager restarting comes back well
// within it).
const managerUnreachableLimit = 2 * time.Minute

// stopReason says what asked a job to stop before its end.
type stopReason struct {
	err   error  // context.Canceled, context.DeadlineExceeded or ErrRunnerClosed
	by    string // whose: "the context given to Start"...
	cause error  // the context's cause, when it says more than err
}

// contextStop is the reason for a stop because ctx is done.
func contextStop(ctx context.Context, by string) stopReason {
	r := stopReason{err: ctx.Err(), by: by}
	cause := context.Cause(ctx)
	if cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		r.cause = cause
	}
	return r
}

// ending is how a job's life ended, as its supervisor saw it.
type ending struct {
	verdict
	// stop is why the job was stopped early, if it was; stillRunning, if
	// set, says why its end could not be seen.
	stop         *stopReason
	stillRunning string
	// waitErr says the manager could not be reached long enough.
	waitErr error
	// detached says Detach let the job go before its end.
	detached bool
}

// supervise is the job's life; see the top of this file.
func (j *Job) supervise(jw *jobWatch) {
	defer j.finished()
	obs := newObserver(j)
	end := j.awaitEnd(jw, obs)
	if end.detached {
		j.letGo(jw, obs)
		return
	}
	if end.stop != nil {
		j.stopTask(jw, obs, &end)
	}
	res := j.result(end, obs)
	outErr := obs.finishOutput(end.task, res, end.stillRunning != "" || errors.Is(end.kind, ErrNodeLost))
	if neverRan(res, obs) {
		res.ExitCode = -1 // stopped before it ever ran: a container never started exits 0
	}
	history := obs.history()
	j.runner.watch.remove(jw)
	res.CleanupErr = j.clearService(end)
	err := joinErrors(j.outcome(end, res, obs), outErr)
	res.Tasks = []TaskResult{taskResult(j.taskIndex, res, err, history)}
	j.runner.log.Debug("oneshot: job ended", "service", j.name, "state", res.State, "exit_code", res.ExitCode,
		"node", res.NodeID, "local_exit_event", obs.localExit, "took", j.clock().Now().Sub(j.started), "err", err)
	j.res, j.err = res, err
}

// awaitEnd follows the job until decide says it is over, or a stop is
// asked for first.
func (j *Job) awaitEnd(jw *jobWatch, obs *observer) ending {
	policy := waitPolicy{retries: j.spec.Retries, scheduleTimeout: j.spec.ScheduleTimeout}
	for {
		snap := jw.snapshot()
		obs.see(snap)
		now := j.clock().Now()
		v := decide(snap, policy, now)
		if v.done {
			return ending{verdict: v}
		}
		if snap.err != nil && now.Sub(snap.errSince) > managerUnreachableLimit {
			return ending{verdict: v, waitErr: fmt.Errorf("oneshot: job %s: %w for %s: %v", j.name, ErrManagerUnreachable, managerUnreachableLimit, snap.err)}
		}
		recheck := j.alarmAt(v.recheckAt)
		select {
		case <-jw.changed:
		case <-recheck.C():
		case <-j.detaching:
			recheck.Stop()
			return ending{verdict: v, detached: true}
		case <-j.stopping:
			recheck.Stop()
			// A task that ended already ended on its own.
			if v := decide(jw.snapshot(), policy, j.clock().Now()); v.done {
				return ending{verdict: v}
			}
			return ending{verdict: v, stop: j.stopWhy}
		}
		recheck.Stop()
	}
}

// stopTask asks the swarm to stop the job's task and waits until it has
// ended, within the stop grace period and a margin: stopped means ended.
// It also waits until the swarm's task reaper has seen the task made in
// place of the job's (see reaperSettle): the service may then be removed.
func (j *Job) stopTask(jw *jobWatch, obs *observer, end *ending) {
	bound := j.stopGracePeriod() + stopMargin
	deadline := j.clock().NewTimer(bound)
	defer deadline.Stop()
	seq := j.runner.watch.pollsStarted()
	j.wrote.Store(true)
	switch err := j.runner.parkService(context.Background(), j.id); {
	case cerrdefs.IsNotFound(err):
		return // someone removed the service: the swarm removes its task
	case err != nil:
		end.stillRunning = fmt.Sprintf("asking the swarm to stop it failed: %v", err)
		return
	}
	j.runner.watch.wakeUpFast()
	for {
		snap := jw.stoppingSnapshot()
		obs.see(snap)
		var recheckAt time.Time
		if snap.seq > seq { // a poll that started after the park
			now := j.clock().Now()
			v := stopVerdict(snap, now)
			if settled := parkedSince(snap).Add(reaperSettle); v.done && now.Before(settled) && v.kind == nil {
				v.done, v.recheckAt = false, settled
			}
			if v.done {
				end.verdict = v
				if errors.Is(v.kind, ErrNodeLost) {
					end.stillRunning = v.reason
				}
				return
			}
			recheckAt, end.verdict.task = v.recheckAt, v.task
		}
		recheck := j.alarmAt(recheckAt)
		select {
		case <-jw.changed:
		case <-recheck.C():
		case <-deadline.C():
			end.stillRunning = fmt.Sprintf("its task had not ended %s after it was asked to stop (its stop grace period and %s more)", bound, stopMargin)
		}
		recheck.Stop()
		if end.stillRunning != "" {
			return
		}
	}
}

// parkedSince is when the task the swarm makes in place of a parked
// job's was first seen, or zero.
func parkedSince(snap snapshot) time.Time {
	for _, t := range snap.tasks {
		if parked(t) {
			return snap.firstSeen[t.ID]
		}
	}
	return time.Time{}
}

// alarm is a timer for a time that may be unset: then it never fires.
type alarm struct{ t timer }

func (j *Job) alarmAt(at time.Time) alarm {
	if at.IsZero() {
		return alarm{}
	}
	return alarm{j.clock().NewTimerAt(at)}
}

func (a alarm) C() <-chan time.Time {
	if a.t == nil {
		return nil
	}
	return a.t.C()
}

func (a alarm) Stop() {
	if a.t != nil {
		a.t.Stop()
	}
}

func (j *Job) stopGracePeriod() time.Duration {
	if j.spec.StopGracePeriod > 0 {
		return j.spec.StopGracePeriod
	}
	return defaultStopGracePeriod
}

// result builds the job's Result from the task that decided its outcome.
func (j *Job) result(end ending, obs *observer) *Result {
	res := &Result{ExitCode: -1, ServiceID: j.id, ServiceName: j.name, Attempts: end.attempts, StartedAt: obs.startedAt}
	t := end.task
	if t == nil {
		return res
	}
	res.TaskID, res.NodeID = t.ID, t.NodeID
	res.State = TaskState(t.Status.State)
	res.Message, res.Err = t.Status.Message, t.Status.Err
	res.CreatedAt = t.CreatedAt
	if res.State.Terminal() {
		res.FinishedAt = t.Status.Timestamp
		res.ExitCode = exitCode(t)
	}
	return res
}

// neverRan reports whether the job's task was stopped before its
// container ever ran: shut down with the 0 that a container never started
// exits with, and nothing says it ran: no poll saw it starting or running,
// the Runner's engine sent no start event for it, and it printed nothing.
// (A short job can start, print and end between two polls, and on another
// node no event tells.)
func neverRan(res *Result, obs *observer) bool {
	printed := len(res.Stdout) > 0 || len(res.Stderr) > 0 || res.StdoutDropped > 0 || res.StderrDropped > 0
	return res.State == StateShutdown && res.ExitCode == 0 && !obs.started[res.TaskID] && !printed
}

// outcome is the job's error: why it was stopped, the wait's own, the
// task's, or its exit code.
func (j *Job) outcome(end ending, res *Result, obs *observer) error {
	switch {
	case end.stop != nil:
		return &StopError{Job: j.name, Reason: end.stop.err, By: end.stop.by, Cause: end.stop.cause, Result: res,
			StillRunning: end.stillRunning != "", Problem: end.stillRunning}
	case end.waitErr != nil:
		return end.waitErr
	case end.kind != nil:
		te := &TaskError{Kind: end.kind, ServiceName: j.name, State: res.State, Message: res.Message, Err: res.Err,
			TaskID: res.TaskID, NodeID: res.NodeID}
		if end.reason != "" {
			te.Err = strings.TrimPrefix(te.Err+"; "+end.reason, "; ")
		}
		return te
	case res.ExitCode != 0:
		return &ExitError{Result: res, Stderr: obs.stderrTail()}
	}
	return nil
}

// clearService removes the job's service once the job is over, unless it
// is kept (then a stopped one stays parked) or other waiters still read it
// (waiters.go). A failure is housekeeping, not the job's outcome: it goes
// to the Result and the logger.
func (j *Job) clearService(end ending) error {
	j.stopRenewing()
	removed, err := j.leaveService()
	if err != nil {
		j.runner.log.Warn("oneshot: job service left behind", "service", j.name, "err", err)
		return err
	}
	if !removed {
		return nil
	}
	j.runner.log.Debug("oneshot: job service removed", "service", j.name, "id", j.id)
	return j.clearJobData()
}

// letGo ends the supervisor of a job that Detach let go: it runs on, and
// this Job's lease on its service is dropped.
func (j *Job) letGo(jw *jobWatch, obs *observer) {
	obs.stopFollower()
	j.runner.watch.remove(jw)
	j.stopRenewing()
	err := j.runner.setLease(context.Background(), j.id, j.waiter, time.Time{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		j.runner.log.Warn("oneshot: drop the job's waiter lease", "service", j.name, "err", err)
	}
	j.runner.log.Debug("oneshot: detached from job", "service", j.name)
	j.res, j.err = &Result{ExitCode: -1, ServiceID: j.id, ServiceName: j.name}, ErrDetached
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

// observer follows the job's tasks for its supervisor: it reports state
// changes to JobSpec.OnStatus, notes when the task started running, and
// keeps a log follower on the current task, streaming its output.
type observer struct {
	job      *Job
	reported map[string]TaskState
	// started holds the tasks seen starting or running; startedAt is when
	// the first was seen running.
	started   map[string]bool
	startedAt time.Time
	localExit bool
	// stdout and stderr are the caller's writers; out is the current
	// task's output and follower its live reader.
	stdout, stderr *liveWriter
	out            *taskOutput
	follower       *follower
	// earlier holds what went wrong with the output of replaced tasks.
	earlier []error
	// tasks are the job's tasks as last seen, oldest first; outputs what
	// each printed, by task ID.
	tasks   []swarm.Task
	outputs map[string]*taskOutput
}

func newObserver(j *Job) *observer {
	return &observer{job: j, reported: map[string]TaskState{}, started: map[string]bool{}, outputs: map[string]*taskOutput{},
		stdout: &liveWriter{w: j.spec.Stdout}, stderr: &liveWriter{w: j.spec.Stderr}}
}

func (o *observer) see(snap snapshot) {
	o.localExit = o.localExit || snap.localExit
	tasks := jobTasks(snap.tasks)
	if len(tasks) > 0 && o.startedAt.IsZero() {
		// The container's start event, if the Runner's engine ran it: more
		// exact than a poll, and there even when no poll saw it running.
		o.startedAt = snap.local[tasks[len(tasks)-1].ID].started
	}
	if len(tasks) > 0 {
		o.tasks = tasks
	}
	for i, t := range tasks {
		if !snap.local[t.ID].started.IsZero() {
			o.started[t.ID] = true // its container's start event
		}
		state := TaskState(t.Status.State)
		if o.reported[t.ID] == state {
			continue
		}
		o.reported[t.ID] = state
		if state == StateStarting || state == StateRunning {
			o.started[t.ID] = true
		}
		if state == StateRunning && o.startedAt.IsZero() {
			o.startedAt = o.job.clock().Now()
		}
		if fn := o.job.spec.OnStatus; fn != nil {
			fn(TaskStatus{TaskIndex: o.job.taskIndex, TaskID: t.ID, Attempt: i + 1, State: state, Message: t.Status.Message, Err: t.Status.Err,
				NodeID: t.NodeID, NodeName: snap.nodes[t.NodeID].hostname, Time: t.Status.Timestamp})
		}
	}
	if len(tasks) > 0 {
		o.follow(tasks[len(tasks)-1])
	}
}

// followable are the states in which the follower starts: once the task is
// on its node, so that the engine opens the container's log as it starts,
// before a large output can be rotated away.
var followable = map[TaskState]bool{
	StateAssigned: true, StateAccepted: true, StatePreparing: true, StateReady: true, StateStarting: true, StateRunning: true,
}

// follow keeps the follower on task once it is on its node.
func (o *observer) follow(task swarm.Task) {
	if o.out != nil && o.out.taskID == task.ID || !followable[TaskState(task.Status.State)] {
		return
	}
	if o.out != nil {
		// A retry replaced the task: the old one's output first.
		if err := o.settle(logReadTimeout, 0); err != nil {
			o.earlier = append(o.earlier, err)
		}
	}
	o.out = o.newOutput(task.ID)
	o.follower = o.job.runner.follow(o.out)
}

// history is every attempt of the job's task, oldest first, each with
// what it printed. An earlier attempt that was never followed (it ended
// between two polls) is read whole now, for the history only: its bytes
// did not reach the writers.
func (o *observer) history() []Attempt {
	var out []Attempt
	for _, t := range o.tasks {
		a := Attempt{TaskID: t.ID, NodeID: t.NodeID, ExitCode: exitCode(&t), State: TaskState(t.Status.State),
			Message: t.Status.Message, Err: t.Status.Err, CreatedAt: t.CreatedAt}
		if a.State.Terminal() {
			a.FinishedAt = t.Status.Timestamp
		}
		printed := o.outputs[t.ID]
		if printed == nil && hadContainer(&t) && a.State.Terminal() {
			printed = o.readWhole(t.ID)
		}
		if printed != nil {
			a.Stdout, a.Stderr = printed.stdout.sink.buf, printed.stderr.sink.buf
		}
		out = append(out, a)
	}
	return out
}

// readWhole reads the whole log of a task that was never followed, for
// its history; nil if it cannot be read.
func (o *observer) readWhole(taskID string) *taskOutput {
	limit := o.job.spec.outputLimit()
	printed := newTaskOutput(taskID, newSink("stdout", &liveWriter{}, limit), newSink("stderr", &liveWriter{}, limit))
	ctx, cancel := context.WithTimeout(context.Background(), logReadTimeoutShort)
	defer cancel()
	if err := o.job.runner.readLog(ctx, printed, 0); err != nil {
		return nil
	}
	return printed
}

func (o *observer) newOutput(taskID string) *taskOutput {
	limit := o.job.spec.outputLimit()
	stdout, stderr := newSink("stdout", o.stdout, limit), newSink("stderr", o.stderr, limit)
	if o.job.spec.outputFromNow {
		stdout.liveFrom, stderr.liveFrom = o.job.started, o.job.started
	}
	out := newTaskOutput(taskID, stdout, stderr)
	o.outputs[taskID] = out
	return out
}

// finishOutput reads the rest of the output of task, the one that decided
// the job, into res, and says what is missing, if anything.
func (o *observer) finishOutput(task *swarm.Task, res *Result, nodeTrouble bool) error {
	switch {
	case (task == nil || !hadContainer(task)) && o.out == nil:
		o.stopFollower()
		return joinErrors(append(o.earlier, o.writerErrors()...)...)
	case task == nil || !hadContainer(task):
		// The task that decided the job is not known to have run, but the
		// follower took output from one: keep it, and say what is missing.
		nodeTrouble = true
	case o.out == nil || o.out.taskID != task.ID:
		o.stopFollower()
		o.out = o.newOutput(task.ID) // never followed: read whole
	}
	timeout, patience := logReadTimeout, logReadPatience
	if nodeTrouble {
		timeout, patience = logReadTimeoutShort, 0
	}
	err := o.settle(timeout, patience)
	res.Stdout, res.StdoutDropped = o.out.stdout.sink.buf, o.out.stdout.sink.dropped()
	res.Stderr, res.StderrDropped = o.out.stderr.sink.buf, o.out.stderr.sink.dropped()
	return joinErrors(append(append(o.earlier, err), o.writerErrors()...)...)
}

// settle stops the follower and reads the current task's whole log, once
// the task has ended, within timeout, reading it again when cut short for
// up to patience; it reports what is missing.
func (o *observer) settle(timeout, patience time.Duration) error {
	o.stopFollower()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	readErr := o.job.runner.readLog(ctx, o.out, patience)
	var errs []error
	for _, gap := range o.out.gaps() {
		if (gap.inResult || gap.extra) && o.writerOf(gap.stream).w == nil {
			continue // only a writer could have missed those, and there is none
		}
		errs = append(errs, o.job.outputError(gap))
	}
	if readErr != nil {
		for _, s := range []*streamOutput{o.out.stdout, o.out.stderr} {
			errs = append(errs, &OutputError{Job: o.job.name, Stream: s.sink.name, Problem: OutputLost, Offset: s.sink.kept, Size: -1,
				Err: fmt.Errorf("read the log of task %s: %w", shortID(o.out.taskID), readErr)})
		}
	}
	return errors.Join(errs...)
}

func (o *observer) writerOf(stream string) *liveWriter {
	if stream == "stderr" {
		return o.stderr
	}
	return o.stdout
}

func (o *observer) stopFollower() {
	if o.follower != nil {
		o.follower.stop()
		o.follower = nil
	}
}

func (o *observer) writerErrors() []error {
	var errs []error
	for _, w := range []struct {
		name string
		w    *liveWriter
	}{{"stdout", o.stdout}, {"stderr", o.stderr}} {
		if w.w.err != nil {
			errs = append(errs, &OutputError{Job: o.job.name, Stream: w.name, Problem: OutputWriterFailed, Offset: w.w.written, Size: -1, Err: w.w.err})
		}
	}
	return errs
}

// stderrTail is the end of the job's stderr, for an ExitError.
func (o *observer) stderrTail() []byte {
	if o.out == nil {
		return nil
	}
	return o.out.stderr.sink.tail.bytes()
}

// outputError turns a gap found in a task's output into the error that
// reports it.
func (j *Job) outputError(g outputGap) *OutputError {
	e := &OutputError{Job: j.name, Stream: g.stream, Offset: g.offset, Size: g.size, After: g.after, Before: g.before, Problem: OutputLost}
	switch {
	case g.inResult:
		e.Problem = OutputLate
	case g.extra:
		e.Problem = OutputRepeated
	case g.unverified:
		e.Problem = OutputUnchecked
	}
	return e
}
