package oneshot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// managerUnreachableLimit is how long Wait keeps trying while every poll of
// the manager fails (a manager restarting comes back well within it).
const managerUnreachableLimit = 2 * time.Minute

// verdict is what decide makes of a job's snapshot.
type verdict struct {
	// done says the job is over.
	done bool
	// task is the task that decided it (the latest), if any.
	task *swarm.Task
	// attempts counts the job's tasks.
	attempts int
	// kind is nil when the task exited (complete, or failed with its exit
	// code), else the sentinel for how it ended without exiting.
	kind error
	// reason adds what the task's status does not say (a node that is down).
	reason string
	// recheckAt, if set, is when to decide again even if nothing changes
	// (the schedule timeout).
	recheckAt time.Time
}

// waitPolicy is what decide needs of a job's spec.
type waitPolicy struct {
	retries         int
	scheduleTimeout time.Duration
}

// decide says whether a job is over, level-driven: it looks only at the
// current task list and node states, never at how they came to be.
func decide(snap snapshot, policy waitPolicy, now time.Time) verdict {
	tasks := currentIteration(snap.tasks)
	v := verdict{attempts: len(tasks)}
	if len(tasks) == 0 {
		v.done = snap.gone
		v.kind = ErrServiceRemoved
		return v
	}
	latest := tasks[len(tasks)-1]
	v.task = &latest
	for i := range tasks {
		if tasks[i].Status.State == swarm.TaskStateComplete {
			v.done, v.task = true, &tasks[i]
			return v
		}
	}
	state := TaskState(latest.Status.State)
	switch {
	case state.Terminal():
		v.kind = classify(latest)
		// Every task so far failed: a retry is coming unless they used up
		// the retries or the service is gone.
		v.done = len(tasks) > policy.retries || snap.gone
	case snap.gone:
		v.done, v.kind = true, ErrServiceRemoved
	case snap.nodes[latest.NodeID].lost():
		n := snap.nodes[latest.NodeID]
		if now.Before(n.lostFrom) {
			v.recheckAt = n.lostFrom // it may be back once it reconnects
			break
		}
		v.done, v.kind = true, ErrNodeLost
		v.reason = fmt.Sprintf("node %s is %s", orDefault(n.hostname, shortID(latest.NodeID)), n.state)
	case policy.scheduleTimeout > 0 && waitingForNode(state):
		deadline := snap.firstSeen[latest.ID].Add(policy.scheduleTimeout)
		if now.Before(deadline) {
			v.recheckAt = deadline
		} else {
			v.done, v.kind = true, ErrUnschedulable
			v.reason = fmt.Sprintf("still %s after %s", state, policy.scheduleTimeout)
		}
	}
	return v
}

// currentIteration keeps the tasks of the job's latest run (a job service
// that is updated runs again, with a new JobIteration).
func currentIteration(tasks []swarm.Task) []swarm.Task {
	var newest uint64
	for _, t := range tasks {
		if t.JobIteration != nil && t.JobIteration.Index > newest {
			newest = t.JobIteration.Index
		}
	}
	var out []swarm.Task
	for _, t := range tasks {
		if t.JobIteration == nil || t.JobIteration.Index == newest {
			out = append(out, t)
		}
	}
	return out
}

// waitingForNode reports whether a task in state s has no node yet.
func waitingForNode(s TaskState) bool {
	return s == StateNew || s == StatePending || s == "allocated"
}

// classify says how a terminal task ended: nil when it exited with a code
// of its own, else the sentinel error for the way it failed. The swarm only
// says why in Status.Err, so the image case is recognised by its wording.
func classify(t swarm.Task) error {
	switch TaskState(t.Status.State) {
	case StateComplete:
		return nil
	case StateFailed:
		if cs := t.Status.ContainerStatus; cs != nil && cs.ExitCode != 0 && cs.ContainerID != "" && !isImageError(t.Status.Err) {
			return nil
		}
	case StateOrphaned:
		return ErrNodeLost
	case StateShutdown, StateRemove:
		return ErrServiceRemoved
	}
	if isImageError(t.Status.Err) {
		return ErrImageNotFound
	}
	return ErrTaskFailed
}

// imageErrors are the engine's words for an image it cannot find or pull.
var imageErrors = []string{"no such image", "pull access denied", "manifest unknown", "repository does not exist", "not found: manifest", "invalid reference format", "unauthorized: authentication required", "no basic auth credentials"}

func isImageError(msg string) bool {
	msg = strings.ToLower(msg)
	for _, s := range imageErrors {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// awaitEnd waits until decide says the job is over, or ctx is done. Each
// new snapshot is shown to the observer first (status callbacks, live logs).
func (j *Job) awaitEnd(ctx context.Context, obs *observer) (verdict, error) {
	policy := waitPolicy{retries: j.spec.Retries, scheduleTimeout: j.spec.ScheduleTimeout}
	for {
		snap := j.watch.snapshot()
		obs.see(snap)
		v := decide(snap, policy, time.Now())
		if v.done {
			return v, nil
		}
		if errors.Is(snap.err, ErrRunnerClosed) {
			return v, fmt.Errorf("oneshot: wait for job %s: %w", j.name, ErrRunnerClosed)
		}
		if snap.err != nil && time.Since(snap.errSince) > managerUnreachableLimit {
			return v, fmt.Errorf("oneshot: wait for job %s: %w for %s: %v", j.name, ErrManagerUnreachable, managerUnreachableLimit, snap.err)
		}
		if err := j.sleep(ctx, v.recheckAt); err != nil {
			// Report the latest view of a job stopped early, whose output
			// is then read as far as it got.
			return decide(j.watch.snapshot(), policy, time.Now()), err
		}
	}
}

// sleep waits for the job's next snapshot, until recheckAt if set.
func (j *Job) sleep(ctx context.Context, recheckAt time.Time) error {
	var recheck <-chan time.Time
	if !recheckAt.IsZero() {
		timer := time.NewTimer(time.Until(recheckAt))
		defer timer.Stop()
		recheck = timer.C
	}
	select {
	case <-j.watch.changed:
	case <-recheck:
	case <-ctx.Done():
		return j.contextError(ctx)
	}
	return nil
}

// contextError says why the job stopped early, matching
// context.DeadlineExceeded or context.Canceled.
func (j *Job) contextError(ctx context.Context) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, errJobTimeout) {
		return fmt.Errorf("oneshot: job %s did not finish within its timeout of %s: %w", j.name, j.spec.Timeout, context.DeadlineExceeded)
	}
	if !errors.Is(cause, ctx.Err()) {
		cause = fmt.Errorf("%w: %w", ctx.Err(), cause)
	}
	return fmt.Errorf("oneshot: wait for job %s: %w", j.name, cause)
}

// observer follows a job's task as Wait sees it: it reports state changes
// to JobSpec.OnStatus, notes when the task started running, and keeps the
// live log follower on the current task.
type observer struct {
	job       *Job
	reported  map[string]TaskState
	startedAt time.Time
	follower  *logFollower
	localExit bool
}

func newObserver(j *Job) *observer {
	return &observer{job: j, reported: map[string]TaskState{}}
}

func (o *observer) see(snap snapshot) {
	o.localExit = o.localExit || snap.localExit
	tasks := currentIteration(snap.tasks)
	for i, t := range tasks {
		state := TaskState(t.Status.State)
		if o.reported[t.ID] == state {
			continue
		}
		o.reported[t.ID] = state
		if state == StateRunning && o.startedAt.IsZero() {
			o.startedAt = time.Now()
		}
		if fn := o.job.spec.OnStatus; fn != nil {
			fn(TaskStatus{TaskID: t.ID, Attempt: i + 1, State: state, Message: t.Status.Message, Err: t.Status.Err,
				NodeID: t.NodeID, NodeName: snap.nodes[t.NodeID].hostname, Time: t.Status.Timestamp})
		}
	}
	if len(tasks) > 0 {
		o.follow(tasks[len(tasks)-1])
	}
}

// followable are the states in which the follower starts: once the task is
// on its node, so that the engine opens the container's log as it starts,
// before a large output can be rotated away (see output.go).
var followable = map[TaskState]bool{
	StateAssigned: true, StateAccepted: true, StatePreparing: true, StateReady: true, StateStarting: true, StateRunning: true,
}

// follow keeps the live log follower on task once it is on its node: it
// streams the output to the job's writers and into the Result, and tells the
// last read at the end where to go on from.
func (o *observer) follow(task swarm.Task) {
	j := o.job
	if o.follower != nil && o.follower.out.taskID == task.ID {
		return
	}
	if !followable[TaskState(task.Status.State)] {
		return // a task that already ended is read whole at the end
	}
	if o.follower != nil {
		// A retry replaced the task: write out the rest of the old one's
		// output before following the new one.
		ctx, cancel := context.WithTimeout(context.Background(), logReadTimeout)
		_ = j.flushLogs(ctx, o.follower.out, o.follower)
		cancel()
	}
	o.follower = j.followLogs(newTaskOutput(task.ID, &j.spec))
}
