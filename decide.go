package oneshot

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// A job's state is read off its task list, level-driven: each function
// here looks only at the latest snapshot (wait.go), never at how it came
// to be, so a missed event or a poll that failed for a while changes
// nothing but how soon the supervisor (supervise.go) notices.

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
	// (the schedule timeout, a node's loss being confirmed).
	recheckAt time.Time
}

// waitPolicy is what decide needs of a job's spec.
type waitPolicy struct {
	retries         int
	scheduleTimeout time.Duration
}

// decide says whether a job that runs on its own is over.
func decide(snap snapshot, policy waitPolicy, now time.Time) verdict {
	tasks := jobTasks(snap.tasks)
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
		switch {
		case v.kind != ErrServiceRemoved:
		case slices.ContainsFunc(snap.tasks, parked):
			v.kind, v.reason = ErrJobStopped, "another process waiting on the job stopped it (Job.Stop, oneshot stop)"
		case !snap.gone && snap.downSeen[latest.NodeID]:
			// The swarm shuts down the tasks of a node it marked down, even
			// for a moment, and the node applies it once back.
			v.kind = ErrNodeLost
			v.reason = fmt.Sprintf("the swarm shut the task down after node %s was seen down", orDefault(snap.nodes[latest.NodeID].hostname, shortID(latest.NodeID)))
		}
		// Every task so far failed: a retry is coming unless they used up
		// the retries or the service is gone.
		v.done = len(tasks) > policy.retries || snap.gone
	case snap.gone:
		v.done, v.kind = true, ErrServiceRemoved
	case snap.nodes[latest.NodeID].lost():
		v.recheckAt, v.done = nodeLost(snap, latest, now)
		if v.done {
			v.kind, v.reason = ErrNodeLost, nodeLossReason(snap, latest)
		}
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

// nodeLost says whether the node of a live task counts as lost by now,
// and if not yet, when it may.
func nodeLost(snap snapshot, t swarm.Task, now time.Time) (recheckAt time.Time, lost bool) {
	n := snap.nodes[t.NodeID]
	if now.Before(n.lostFrom) {
		return n.lostFrom, false // it may be back once it reconnects
	}
	return time.Time{}, true
}

func nodeLossReason(snap snapshot, t swarm.Task) string {
	n := snap.nodes[t.NodeID]
	return fmt.Sprintf("node %s is %s", orDefault(n.hostname, shortID(t.NodeID)), n.state)
}

// stopVerdict says whether a job that was asked to stop (its service
// parked, see service.go) has stopped: the swarm has applied the park (the
// task it makes in place of the job's is there) and every task the job ran
// has ended. Until the park is applied, the swarm may still make a task of
// the job from the spec it read before (seen here, tens of milliseconds
// after the update). Its task is the latest of them, if any.
func stopVerdict(snap snapshot, now time.Time) (v verdict) {
	tasks := jobTasks(snap.tasks)
	v.attempts = len(tasks)
	if len(tasks) > 0 {
		v.task = &tasks[len(tasks)-1]
	}
	switch {
	case snap.gone:
		v.done = true
	case !slices.ContainsFunc(snap.tasks, parked):
	case !slices.ContainsFunc(tasks, mayRun):
		v.done = true
	case snap.nodes[v.task.NodeID].lost():
		v.recheckAt, v.done = nodeLost(snap, *v.task, now)
		if v.done {
			v.kind, v.reason = ErrNodeLost, nodeLossReason(snap, *v.task)
		}
	}
	return v
}

// mayRun reports whether a task runs or may still run: it has not ended,
// and it is not one the swarm will never start (never assigned to a node,
// and no longer wanted running: a task stopped before it had a node stays
// so, unless deleted).
func mayRun(t swarm.Task) bool {
	state := TaskState(t.Status.State)
	willNeverRun := waitingForNode(state) && t.DesiredState != "" && t.DesiredState != swarm.TaskStateRunning && t.DesiredState != swarm.TaskStateReady
	return !state.Terminal() && !willNeverRun
}

// jobTasks keeps the tasks that run the job: those of its latest run (a
// job-mode service that is updated runs again, with a new JobIteration),
// and not the one the swarm makes in place of a stopped task, which never
// runs (see parkConstraint).
func jobTasks(tasks []swarm.Task) []swarm.Task {
	var newest uint64
	for _, t := range tasks {
		if t.JobIteration != nil && t.JobIteration.Index > newest {
			newest = t.JobIteration.Index
		}
	}
	var out []swarm.Task
	for _, t := range tasks {
		if (t.JobIteration == nil || t.JobIteration.Index == newest) && !parked(t) {
			out = append(out, t)
		}
	}
	return out
}

// parked reports whether t is the never-scheduled task of a parked slot.
func parked(t swarm.Task) bool {
	return t.Spec.Placement != nil && slices.Contains(t.Spec.Placement.Constraints, parkConstraint)
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

// exitCode is the exit code of a task that ended with one, or -1. A task
// that was shut down (stopped) has the code its container exited with, if
// it had one; the caller knows whether it ever ran.
func exitCode(t *swarm.Task) int {
	if t == nil || t.Status.ContainerStatus == nil || t.Status.ContainerStatus.ContainerID == "" {
		return -1
	}
	switch TaskState(t.Status.State) {
	case StateComplete, StateShutdown:
		return t.Status.ContainerStatus.ExitCode
	case StateFailed:
		if classify(*t) == nil {
			return t.Status.ContainerStatus.ExitCode
		}
	}
	return -1
}

// hadContainer reports whether task got as far as having a container that
// may have logged something.
func hadContainer(task *swarm.Task) bool {
	if task == nil {
		return false
	}
	if cs := task.Status.ContainerStatus; cs != nil && cs.ContainerID != "" {
		return true
	}
	switch TaskState(task.Status.State) {
	case StateStarting, StateRunning, StateComplete:
		return true
	}
	return false
}
