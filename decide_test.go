package oneshot

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// task makes a task in state, created at t0 plus n seconds, on node "n1".
func task(id string, n int, state swarm.TaskState, opts ...func(*swarm.Task)) swarm.Task {
	t := swarm.Task{ID: id, NodeID: "n1", Status: swarm.TaskStatus{State: state, Timestamp: t0.Add(time.Duration(n+1) * time.Second)}}
	t.CreatedAt = t0.Add(time.Duration(n) * time.Second)
	for _, opt := range opts {
		opt(&t)
	}
	return t
}

func exited(code int) func(*swarm.Task) {
	return func(t *swarm.Task) {
		t.Status.ContainerStatus = &swarm.ContainerStatus{ContainerID: "c-" + t.ID, ExitCode: code}
	}
}

func withErr(msg string) func(*swarm.Task) {
	return func(t *swarm.Task) { t.Status.Err = msg }
}

func unassigned(t *swarm.Task) { t.NodeID = "" }

func iteration(i uint64) func(*swarm.Task) {
	return func(t *swarm.Task) { t.JobIteration = &swarm.Version{Index: i} }
}

func TestDecide(t *testing.T) {
	ready := map[string]nodeInfo{"n1": {hostname: "node-1", state: swarm.NodeStateReady}}
	down := map[string]nodeInfo{"n1": {hostname: "node-1", state: swarm.NodeStateDown}}
	seenAtT0 := map[string]time.Time{"a": t0, "b": t0}
	cases := []struct {
		name      string
		snap      snapshot
		policy    waitPolicy
		now       time.Time
		done      bool
		kind      error
		taskID    string
		attempts  int
		recheckAt time.Time
	}{
		{name: "no task yet", snap: snapshot{}},
		{name: "service gone before any task", snap: snapshot{gone: true}, done: true, kind: ErrServiceRemoved},
		{name: "pending", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStatePending, unassigned)}}, taskID: "a", attempts: 1},
		{name: "pending within the schedule timeout",
			snap:   snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStatePending, unassigned, withErr("no suitable node"))}, firstSeen: seenAtT0},
			policy: waitPolicy{scheduleTimeout: 5 * time.Second}, now: t0.Add(time.Second),
			taskID: "a", attempts: 1, recheckAt: t0.Add(5 * time.Second)},
		{name: "pending past the schedule timeout",
			snap:   snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStatePending, unassigned, withErr("no suitable node"))}, firstSeen: seenAtT0},
			policy: waitPolicy{scheduleTimeout: 5 * time.Second}, now: t0.Add(5 * time.Second),
			done: true, kind: ErrUnschedulable, taskID: "a", attempts: 1},
		{name: "running past the schedule timeout is fine",
			snap:   snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRunning)}, nodes: ready, firstSeen: seenAtT0},
			policy: waitPolicy{scheduleTimeout: time.Second}, now: t0.Add(time.Hour),
			taskID: "a", attempts: 1},
		{name: "running on a ready node", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRunning)}, nodes: ready}, taskID: "a", attempts: 1},
		{name: "running on a node that is down", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRunning)}, nodes: down},
			done: true, kind: ErrNodeLost, taskID: "a", attempts: 1},
		{name: "complete", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateComplete, exited(0))}}, done: true, taskID: "a", attempts: 1},
		{name: "complete even if the node went down after", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateComplete, exited(0))}, nodes: down},
			done: true, taskID: "a", attempts: 1},
		{name: "failed with an exit code", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateFailed, exited(3))}}, done: true, taskID: "a", attempts: 1},
		{name: "failed, a retry is coming", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateFailed, exited(3))}},
			policy: waitPolicy{retries: 1}, taskID: "a", attempts: 1},
		{name: "failed, the retry runs", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateFailed, exited(3)), task("b", 1, swarm.TaskStateRunning)}, nodes: ready},
			policy: waitPolicy{retries: 1}, taskID: "b", attempts: 2},
		{name: "failed twice, no retry left", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateFailed, exited(3)), task("b", 1, swarm.TaskStateFailed, exited(4))}},
			policy: waitPolicy{retries: 1}, done: true, taskID: "b", attempts: 2},
		{name: "the retry completed", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateFailed, exited(3)), task("b", 1, swarm.TaskStateComplete, exited(0))}},
			policy: waitPolicy{retries: 3}, done: true, taskID: "b", attempts: 2},
		{name: "rejected: no such image", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRejected, withErr("No such image: app:v1"))}},
			done: true, kind: ErrImageNotFound, taskID: "a", attempts: 1},
		{name: "rejected: pull denied", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRejected, withErr("pull access denied for app, repository does not exist"))}},
			done: true, kind: ErrImageNotFound, taskID: "a", attempts: 1},
		{name: "rejected: cannot start", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRejected, withErr(`starting container failed: exec: "nope": executable file not found`))}},
			done: true, kind: ErrTaskFailed, taskID: "a", attempts: 1},
		{name: "failed without an exit code", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateFailed, withErr("mount failed"))}},
			done: true, kind: ErrTaskFailed, taskID: "a", attempts: 1},
		{name: "orphaned", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateOrphaned)}}, done: true, kind: ErrNodeLost, taskID: "a", attempts: 1},
		{name: "shut down by someone else", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateShutdown)}}, done: true, kind: ErrServiceRemoved, taskID: "a", attempts: 1},
		{name: "shut down by the swarm after its node was down for a moment", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateShutdown)}, nodes: ready,
			downSeen: map[string]bool{"n1": true}}, done: true, kind: ErrNodeLost, taskID: "a", attempts: 1},
		{name: "service removed while running", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRunning)}, nodes: ready, gone: true},
			done: true, kind: ErrServiceRemoved, taskID: "a", attempts: 1},
		{name: "only the current job iteration counts",
			snap:   snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateComplete, exited(0), iteration(1)), task("b", 1, swarm.TaskStateRunning, iteration(2))}, nodes: ready},
			taskID: "b", attempts: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			v := decide(tc.snap, tc.policy, now)
			assert.Equal(t, tc.done, v.done, "done")
			if tc.done {
				assert.ErrorIs(t, v.kind, tc.kind)
				if tc.kind == nil {
					assert.NoError(t, v.kind)
				}
			}
			if tc.taskID == "" {
				assert.Nil(t, v.task)
			} else if assert.NotNil(t, v.task) {
				assert.Equal(t, tc.taskID, v.task.ID)
			}
			assert.Equal(t, tc.attempts, v.attempts, "attempts")
			assert.Equal(t, tc.recheckAt, v.recheckAt, "recheckAt")
		})
	}
}

func TestTaskStateTerminal(t *testing.T) {
	for _, s := range []TaskState{StateComplete, StateFailed, StateRejected, StateShutdown, StateRemove, StateOrphaned} {
		assert.True(t, s.Terminal(), s)
	}
	for _, s := range []TaskState{StateNew, StatePending, StateAssigned, StateAccepted, StatePreparing, StateReady, StateStarting, StateRunning} {
		assert.False(t, s.Terminal(), s)
	}
}

// parkedTask is the task the swarm makes in place of a stopped job's.
func parkedTask(id string) swarm.Task {
	t := task(id, 9, swarm.TaskStatePending, unassigned, withErr("no suitable node"))
	t.Spec.Placement = &swarm.Placement{Constraints: []string{"node.role==worker", parkConstraint}}
	return t
}

func TestStopVerdict(t *testing.T) {
	ready := map[string]nodeInfo{"n1": {hostname: "node-1", state: swarm.NodeStateReady}}
	down := map[string]nodeInfo{"n1": {hostname: "node-1", state: swarm.NodeStateDown}}
	cases := []struct {
		name   string
		snap   snapshot
		done   bool
		taskID string
		kind   error
	}{
		{name: "the park not applied yet: a task may still come", snap: snapshot{}},
		{name: "the park not applied yet, the task running", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRunning)}, nodes: ready}, taskID: "a"},
		{name: "parked before any task ran", snap: snapshot{tasks: []swarm.Task{parkedTask("p")}}, done: true},
		{name: "parked, the task still stopping", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRunning), parkedTask("p")}, nodes: ready}, taskID: "a"},
		{name: "parked, a late task of the old spec not ended", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStatePending, unassigned), parkedTask("p")}}, taskID: "a"},
		{name: "parked, a task stopped before it had a node", snap: snapshot{tasks: []swarm.Task{desired(task("a", 0, swarm.TaskStatePending, unassigned), swarm.TaskStateShutdown), parkedTask("p")}},
			done: true, taskID: "a"},
		{name: "parked, the task ended", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateShutdown, exited(143)), parkedTask("p")}}, done: true, taskID: "a"},
		{name: "the service gone", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRunning)}, gone: true}, done: true, taskID: "a"},
		{name: "its node lost", snap: snapshot{tasks: []swarm.Task{task("a", 0, swarm.TaskStateRunning), parkedTask("p")}, nodes: down},
			done: true, taskID: "a", kind: ErrNodeLost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := stopVerdict(tc.snap, t0)
			assert.Equal(t, tc.done, v.done)
			if tc.taskID == "" {
				assert.Nil(t, v.task)
			} else if assert.NotNil(t, v.task) {
				assert.Equal(t, tc.taskID, v.task.ID)
			}
			assert.Equal(t, tc.kind, v.kind)
		})
	}
}

func TestExitCode(t *testing.T) {
	of := func(state swarm.TaskState, opts ...func(*swarm.Task)) int {
		tk := task("a", 0, state, opts...)
		return exitCode(&tk)
	}
	assert.Equal(t, 0, of(swarm.TaskStateComplete, exited(0)))
	assert.Equal(t, 3, of(swarm.TaskStateFailed, exited(3)))
	assert.Equal(t, 143, of(swarm.TaskStateShutdown, exited(143)), "a stopped task's own code")
	assert.Equal(t, -1, of(swarm.TaskStateRunning, exited(0)), "not over")
	assert.Equal(t, -1, of(swarm.TaskStateRejected, withErr("No such image: x")))
	assert.Equal(t, -1, of(swarm.TaskStateShutdown), "stopped before it had a container")
	assert.Equal(t, -1, exitCode(nil))
}

func desired(t swarm.Task, state swarm.TaskState) swarm.Task {
	t.DesiredState = state
	return t
}
