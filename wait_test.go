package oneshot

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newFakeRunner(t *testing.T) (*Runner, *fakeEngine) {
	t.Helper()
	f := newFakeEngine()
	r, err := NewRunner()
	require.NoError(t, err)
	require.NoError(t, r.Close())
	r = &Runner{api: f, log: r.log}
	r.watch = newWatcher(f, r.log)
	t.Cleanup(func() { _ = r.Close() })
	return r, f
}

func startFake(t *testing.T, r *Runner, name string, opts ...Option) *Job {
	t.Helper()
	job, err := r.Start(context.Background(), JobSpec{Image: "app:v1", Name: name}, opts...)
	require.NoError(t, err)
	return job
}

type waited struct {
	res *Result
	err error
}

func waitAsync(ctx context.Context, job *Job) <-chan waited {
	ch := make(chan waited, 1)
	go func() {
		res, err := job.Wait(ctx)
		ch <- waited{res, err}
	}()
	return ch
}

func within(t *testing.T, ch <-chan waited, d time.Duration) waited {
	t.Helper()
	select {
	case w := <-ch:
		return w
	case <-time.After(d):
		t.Fatalf("Wait did not return within %s", d)
		return waited{}
	}
}

func TestWaitReturnsTheJobsOutcomeAndRemovesTheService(t *testing.T) {
	r, f := newFakeRunner(t)
	var live bytes.Buffer
	var states []TaskState
	job := startFake(t, r, "job1", WithStdout(&live), WithStatusFunc(func(s TaskStatus) { states = append(states, s.State) }))
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStatePending, unassigned))
	ch := waitAsync(context.Background(), job)
	time.Sleep(50 * time.Millisecond)
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateRunning))
	time.Sleep(50 * time.Millisecond)
	f.setLogs("t1", "hello\n", "oops\n")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateFailed, exited(3)))

	w := within(t, ch, 2*time.Second)
	var exitErr *ExitError
	require.ErrorAs(t, w.err, &exitErr)
	assert.Equal(t, 3, exitErr.ExitCode())
	assert.Equal(t, "oops\n", string(exitErr.Stderr))
	assert.Equal(t, "hello\n", string(w.res.Stdout))
	assert.Equal(t, "oops\n", string(w.res.Stderr))
	assert.Equal(t, "hello\n", live.String(), "live output is written once, follower and final read together")
	assert.Equal(t, []TaskState{StatePending, StateRunning, StateFailed}, states)
	assert.Equal(t, []string{job.ServiceID()}, f.removed)
	assert.False(t, w.res.StartedAt.IsZero())

	_, err := job.Wait(context.Background())
	assert.ErrorIs(t, err, errWaitCalled)
}

func TestCancelledWaitStillRemovesTheService(t *testing.T) {
	r, f := newFakeRunner(t)
	job := startFake(t, r, "job1")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateRunning, exited(0)))
	ctx, cancel := context.WithCancel(context.Background())
	ch := waitAsync(ctx, job)
	time.Sleep(30 * time.Millisecond)
	cancel()
	w := within(t, ch, 2*time.Second)
	assert.ErrorIs(t, w.err, context.Canceled)
	assert.Equal(t, StateRunning, w.res.State)
	assert.Equal(t, -1, w.res.ExitCode)
	require.Equal(t, []string{job.ServiceID()}, f.removed)
	assert.NoError(t, f.removeCtxErr[0], "the removal gets a context of its own")
}

func TestJobTimeoutMatchesDeadlineExceeded(t *testing.T) {
	r, f := newFakeRunner(t)
	job := startFake(t, r, "job1", WithTimeout(100*time.Millisecond))
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateRunning))
	w := within(t, waitAsync(context.Background(), job), 2*time.Second)
	assert.ErrorIs(t, w.err, context.DeadlineExceeded)
	assert.Contains(t, w.err.Error(), "timeout of 100ms")
	assert.Equal(t, []string{job.ServiceID()}, f.removed)
}

func TestOnePollServesAllJobs(t *testing.T) {
	r, f := newFakeRunner(t)
	const n = 10
	var jobs []*Job
	for i := range n {
		job := startFake(t, r, fmt.Sprint("job", i))
		f.setTasks(job.ServiceID(), task("t", 0, swarm.TaskStateRunning))
		jobs = append(jobs, job)
	}
	time.Sleep(500 * time.Millisecond)
	calls := f.callCount("TaskList")
	assert.Less(t, calls, 20, "one poll a tick for all jobs, backing off while nothing changes")
	f.mu.Lock()
	assert.Equal(t, n, f.listedServices[len(f.listedServices)-1], "the last poll asked for every job at once")
	f.mu.Unlock()
	for _, job := range jobs {
		f.setTasks(job.ServiceID(), task("t", 0, swarm.TaskStateComplete, exited(0)))
	}
	for _, job := range jobs {
		w := within(t, waitAsync(context.Background(), job), 3*time.Second)
		assert.NoError(t, w.err)
	}
}

func TestAServiceRemovedBehindOurBackEndsOnlyItsJob(t *testing.T) {
	r, f := newFakeRunner(t)
	gone := startFake(t, r, "gone")
	kept := startFake(t, r, "kept")
	f.setTasks(gone.ServiceID(), task("g", 0, swarm.TaskStateRunning))
	f.setTasks(kept.ServiceID(), task("k", 0, swarm.TaskStateRunning))
	goneCh, keptCh := waitAsync(context.Background(), gone), waitAsync(context.Background(), kept)
	time.Sleep(50 * time.Millisecond)
	f.mu.Lock()
	delete(f.services, gone.ServiceID())
	delete(f.tasks, gone.ServiceID())
	f.mu.Unlock()
	w := within(t, goneCh, 3*time.Second)
	assert.ErrorIs(t, w.err, ErrServiceRemoved)

	f.setTasks(kept.ServiceID(), task("k", 0, swarm.TaskStateComplete, exited(0)))
	w = within(t, keptCh, 3*time.Second)
	assert.NoError(t, w.err)
}

func TestNodeDownEndsTheWaitWithNodeLost(t *testing.T) {
	r, f := newFakeRunner(t)
	job := startFake(t, r, "job1")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateRunning))
	ch := waitAsync(context.Background(), job)
	time.Sleep(50 * time.Millisecond)
	f.mu.Lock()
	f.nodes[0].Status.State = swarm.NodeStateDown
	f.mu.Unlock()
	f.events <- events.Message{Type: events.NodeEventType, Action: events.ActionUpdate, Actor: events.Actor{ID: "n1", Attributes: map[string]string{"state.new": "down"}}}
	w := within(t, ch, nodeLossConfirm+time.Second) // once it has stayed down for nodeLossConfirm
	require.ErrorIs(t, w.err, ErrNodeLost)
	assert.Contains(t, w.err.Error(), "node-1 is down")
}

func TestNodeDownBrieflyDoesNotEndTheWait(t *testing.T) {
	// A manager that restarts sees its workers down until they reconnect.
	r, f := newFakeRunner(t)
	job := startFake(t, r, "job1")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateRunning))
	ch := waitAsync(context.Background(), job)
	time.Sleep(50 * time.Millisecond)
	setNode := func(state swarm.NodeState) {
		f.mu.Lock()
		f.nodes[0].Status.State = state
		f.mu.Unlock()
		f.events <- events.Message{Type: events.NodeEventType, Action: events.ActionUpdate, Actor: events.Actor{ID: "n1", Attributes: map[string]string{"state.new": string(state)}}}
	}
	setNode(swarm.NodeStateDown)
	time.Sleep(nodeLossConfirm / 2)
	setNode(swarm.NodeStateReady)
	time.Sleep(nodeLossConfirm)
	select {
	case w := <-ch:
		t.Fatalf("Wait returned while the node was back: %v", w.err)
	default:
	}
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	w := within(t, ch, 3*time.Second)
	require.NoError(t, w.err, "the job's true result")
}

func TestDieEventWakesTheBackedOffPoll(t *testing.T) {
	r, f := newFakeRunner(t)
	job := startFake(t, r, "job1")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateRunning))
	ch := waitAsync(context.Background(), job)
	time.Sleep(3 * time.Second) // long enough for the poll to slow to maxPoll
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	start := time.Now()
	f.events <- events.Message{Type: events.ContainerEventType, Action: events.ActionDie,
		Actor: events.Actor{ID: "c1", Attributes: map[string]string{"com.docker.swarm.service.id": job.ServiceID()}}}
	w := within(t, ch, time.Second)
	require.NoError(t, w.err)
	assert.Less(t, time.Since(start), 200*time.Millisecond, "the event made the poll look at once")
}

func TestEventStreamIsReopenedAfterAnError(t *testing.T) {
	r, f := newFakeRunner(t)
	startFake(t, r, "job1")
	require.Eventually(t, func() bool { return f.callCount("Events") == 1 }, time.Second, 5*time.Millisecond)
	f.eventErr <- fmt.Errorf("connection reset")
	require.Eventually(t, func() bool { return f.callCount("Events") == 2 }, 2*time.Second, 5*time.Millisecond)
}

func TestCloseEndsTheWaitsInFlight(t *testing.T) {
	r, f := newFakeRunner(t)
	job := startFake(t, r, "job1")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateRunning))
	ch := waitAsync(context.Background(), job)
	time.Sleep(30 * time.Millisecond)
	require.NoError(t, r.Close())
	w := within(t, ch, time.Second)
	assert.ErrorIs(t, w.err, ErrRunnerClosed)
}

func TestNodeLossCountsAfterAConfirmationAndAManagerOutage(t *testing.T) {
	down := nodeInfo{state: swarm.NodeStateDown}
	ready := nodeInfo{state: swarm.NodeStateReady}
	w := newWatcher(nil, nil)
	w.mu.Lock()
	defer w.mu.Unlock()

	before := time.Now()
	first := w.noteLoss("n1", down)
	assert.WithinDuration(t, before.Add(nodeLossConfirm), first.lostFrom, time.Second, "confirmed a while after first seen down")
	again := w.noteLoss("n1", down)
	assert.Equal(t, first.lostFrom, again.lostFrom, "counted from the first sighting")
	assert.True(t, w.noteLoss("n1", ready).lostFrom.IsZero(), "a node back up is not lost")
	assert.True(t, w.noteLoss("n1", down).lostFrom.After(first.lostFrom), "a new loss counts anew")

	w.backAt = time.Now() // the manager just came back from an outage
	afterOutage := w.noteLoss("n2", down)
	assert.WithinDuration(t, w.backAt.Add(managerRecoveryGrace), afterOutage.lostFrom, time.Second, "its workers get time to reconnect")
}
