package oneshot

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOnePollServesAllJobs(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	polls := f.polls
	const n = 10
	var jobs []*Job
	for i := range n {
		job := startJob(t, context.Background(), r, fmt.Sprint("job", i))
		running(f, job, fmt.Sprint("t", i))
		jobs = append(jobs, job)
	}
	polls.await(t, r)
	f.mu.Lock()
	lists := f.calls["TaskList"]
	f.mu.Unlock()
	polls.await(t, r)
	assert.Equal(t, lists+1, f.callCount("TaskList"), "one TaskList a poll, for all the jobs in flight")
	for i, job := range jobs {
		f.setTasks(job.ServiceID(), task(fmt.Sprint("t", i), 0, swarm.TaskStateComplete, exited(0)))
	}
	for _, job := range jobs {
		w := await(t, waitAsync(context.Background(), job), "Wait")
		assert.NoError(t, w.err)
	}
}

func TestAServiceRemovedBehindOurBackEndsOnlyItsJob(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	st := newStatuses()
	gone := startJob(t, context.Background(), r, "gone", st.option())
	kept := startJob(t, context.Background(), r, "kept")
	running(f, gone, "g")
	running(f, kept, "k")
	st.await(t, StateRunning)
	f.mu.Lock()
	delete(f.services, gone.ServiceID())
	delete(f.tasks, gone.ServiceID())
	f.mu.Unlock()
	f.wake()
	w := await(t, waitAsync(context.Background(), gone), "Wait")
	assert.ErrorIs(t, w.err, ErrServiceRemoved)

	f.setTasks(kept.ServiceID(), task("k", 0, swarm.TaskStateComplete, exited(0)))
	w = await(t, waitAsync(context.Background(), kept), "Wait")
	assert.NoError(t, w.err)
}

func TestANodeDownBrieflyDoesNotEndTheJob(t *testing.T) {
	// A manager that restarts sees its workers down until they reconnect.
	r, f, c := newFakeRunner(t)
	polls := f.polls
	job := startRunning(t, r, f, "job1")
	f.setNode(swarm.NodeStateDown)
	polls.await(t, r)
	c.Advance(nodeLossConfirm / 2)
	f.setNode(swarm.NodeStateReady)
	polls.await(t, r)
	c.Advance(nodeLossConfirm)
	polls.await(t, r)
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err, "the job's true result")
}

// dieAt is when the fake engine's containers exit.
var dieAt = t0.Add(90 * time.Second)

// containerEvent is the event the Runner's engine sends when the container
// of the job's task taskID dies with code, or is killed (code < 0).
func containerEvent(job *Job, taskID string, code int) events.Message {
	attrs := map[string]string{"com.docker.swarm.service.id": job.ServiceID(), "com.docker.swarm.task.id": taskID}
	action := events.ActionKill
	if code >= 0 {
		action, attrs["exitCode"] = events.ActionDie, fmt.Sprint(code)
	}
	return events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: "c-" + taskID, Attributes: attrs},
		TimeNano: dieAt.UnixNano()}
}

// handledEvents hands the events a Runner's watcher has handled to a test.
func handledEvents(r *Runner) <-chan events.Message {
	ch := make(chan events.Message, 64)
	r.watch.afterEvent = func(m events.Message) { ch <- m }
	return ch
}

func TestADieEventEndsTheJobAheadOfTheManager(t *testing.T) {
	for _, tc := range []struct {
		code  int
		state TaskState
		err   string
	}{
		{0, StateComplete, ""},
		{3, StateFailed, "task: non-zero exit (3)"},
		{255, StateFailed, "task: non-zero exit (255)"},
	} {
		t.Run(fmt.Sprint("exit ", tc.code), func(t *testing.T) {
			r, f, _ := newFakeRunner(t)
			job := startRunning(t, r, f, "job1")
			// The manager says running all along (the fake clock never
			// fires the poll's timer): only the die event can end the job.
			f.events <- containerEvent(job, "t1", tc.code)
			w := await(t, waitAsync(context.Background(), job), "Wait")
			if tc.code == 0 {
				require.NoError(t, w.err)
			} else {
				var exitErr *ExitError
				require.ErrorAs(t, w.err, &exitErr)
			}
			assert.Equal(t, tc.code, w.res.ExitCode)
			assert.Equal(t, tc.state, w.res.State)
			assert.Equal(t, tc.err, w.res.Err)
			assert.True(t, w.res.FinishedAt.Equal(dieAt), "the container's exit time")
		})
	}
}

func TestAKilledContainersEndIsTheManagersToSay(t *testing.T) {
	// Another waiter stopped the job: its container is killed, and the
	// task is shut down, not failed with the signal's exit code.
	r, f, _ := newFakeRunner(t)
	handled := handledEvents(r)
	job := startRunning(t, r, f, "job1")
	f.events <- containerEvent(job, "t1", -1)
	f.events <- containerEvent(job, "t1", 143)
	await(t, handled, "the kill")
	await(t, handled, "the die")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateShutdown, exited(143)), parkedTask("t2"))
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.ErrorIs(t, w.err, ErrJobStopped)
	assert.Equal(t, StateShutdown, w.res.State)
}

func TestADieEventWithRetriesLeftWaitsForTheRetry(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	handled := handledEvents(r)
	st := newStatuses()
	job := startJob(t, context.Background(), r, "job1", WithRetries(1, 0), st.option())
	running(f, job, "t1")
	st.await(t, StateRunning)
	f.events <- containerEvent(job, "t1", 3)
	await(t, handled, "the die")
	st.await(t, StateFailed)
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateFailed, exited(3)), task("t2", 1, swarm.TaskStateRunning, exited(0)))
	f.events <- containerEvent(job, "t2", 0)
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err)
	assert.Equal(t, 2, w.res.Attempts)
	assert.Equal(t, "t2", w.res.TaskID)
}

func TestAJobsServiceIsRemovedUnreadWhenNobodyElseTouchedIt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		events   []events.Action // of the job's service, after its creation
		inspects int
	}{
		{"created, never updated: removed without a read", nil, 0},
		{"updated by someone (an attacher's lease): read first", []events.Action{events.ActionUpdate}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, f, _ := newFakeRunner(t)
			handled := handledEvents(r)
			job := startRunning(t, r, f, "job1")
			for _, action := range append([]events.Action{events.ActionCreate}, tc.events...) {
				f.events <- events.Message{Type: events.ServiceEventType, Action: action, Actor: events.Actor{ID: job.ServiceID()}}
				await(t, handled, string(action))
			}
			before := f.callCount("ServiceInspect")
			f.events <- containerEvent(job, "t1", 0)
			w := await(t, waitAsync(context.Background(), job), "Wait")
			require.NoError(t, w.err)
			assert.Equal(t, tc.inspects, f.callCount("ServiceInspect")-before)
			assert.Equal(t, 1, f.callCount("ServiceRemove"))
		})
	}
}

func TestTheEventStreamIsReopenedAfterAnError(t *testing.T) {
	r, f, c := newFakeRunner(t)
	startJob(t, context.Background(), r, "job1")
	await(t, f.opened, "the event stream")
	c.Advance(maxEventRetry + time.Second) // a stream that lived a while is reopened at once
	f.eventErr <- fmt.Errorf("connection reset")
	await(t, f.opened, "the event stream, again")
	assert.Equal(t, 2, f.callCount("Events"))
}

func TestANodeEventMakesThePollReadTheNodes(t *testing.T) {
	c := newFakeClock()
	w := newWatcher(nil, quietLogger, c)
	w.nodeAt = c.Now()
	w.handleEvent(events.Message{Type: events.NodeEventType, Action: events.ActionUpdate, Actor: events.Actor{ID: "n1", Attributes: map[string]string{"state.new": "down"}}})
	assert.True(t, w.nodeAt.IsZero(), "the node list is read again")
	assert.Len(t, w.wake, 1, "at once")
	assert.True(t, w.burst.Load(), "and then often for a while")
}

func TestThePollsPace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		quiet   bool
		ceiling time.Duration
	}{
		{"every task runs on the Runner's node: its die event tells the end", true, maxPoll},
		{"a task elsewhere, or not yet running: only the poll tells", false, maxPollRemote},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			p := pace{interval: minPoll}
			var got []time.Duration
			for _, changed := range []bool{true, false, false, false, false, false, false, false, false, false, false, false} {
				p.polled(changed, tc.quiet, now)
				got = append(got, p.interval)
			}
			assert.Equal(t, minPoll, got[0], "fast while things change")
			for i := 2; i < len(got); i++ {
				assert.GreaterOrEqual(t, got[i], got[i-1], "slower while nothing changes")
			}
			assert.Equal(t, tc.ceiling, got[len(got)-1], "up to its ceiling")
			p.woken(true, now)
			assert.Equal(t, minPoll, p.interval, "an event wakes it up")
			p.polled(false, tc.quiet, now.Add(burstLen/2))
			assert.Equal(t, burstPoll, p.interval, "and keeps it fast for a burst")
			p.polled(false, tc.quiet, now.Add(burstLen))
			assert.Greater(t, p.interval, burstPoll, "then backs off again")
		})
	}
}

func TestASlowPollIsNotFollowedAtOnce(t *testing.T) {
	p := pace{interval: minPoll}
	p.polled(true, false, t0)
	p.took(300 * time.Millisecond)
	assert.Equal(t, 300*time.Millisecond, p.interval, "as long as the poll took")
	p.polled(true, false, t0)
	p.took(time.Millisecond)
	assert.Equal(t, minPoll, p.interval, "a quick poll keeps its pace")
}

func TestAQuietPollThatIsNoLongerQuietSpeedsUp(t *testing.T) {
	p := pace{interval: maxPoll}
	p.polled(false, false, t0)
	assert.Equal(t, maxPollRemote, p.interval, "a task now runs elsewhere")
}

func TestNodeLossCountsAfterAConfirmationAndAManagerOutage(t *testing.T) {
	down := nodeInfo{state: swarm.NodeStateDown}
	ready := nodeInfo{state: swarm.NodeStateReady}
	c := newFakeClock()
	w := newWatcher(nil, quietLogger, c)
	w.mu.Lock()
	defer w.mu.Unlock()

	first := w.noteLoss("n1", down)
	assert.Equal(t, t0.Add(nodeLossConfirm), first.lostFrom, "confirmed a while after first seen down")
	c.Advance(time.Second)
	again := w.noteLoss("n1", down)
	assert.Equal(t, first.lostFrom, again.lostFrom, "counted from the first sighting")
	assert.True(t, w.noteLoss("n1", ready).lostFrom.IsZero(), "a node back up is not lost")
	assert.Equal(t, t0.Add(time.Second+nodeLossConfirm), w.noteLoss("n1", down).lostFrom, "a new loss counts anew")

	w.backAt = c.Now() // the manager just came back from an outage
	afterOutage := w.noteLoss("n2", down)
	assert.Equal(t, w.backAt.Add(managerRecoveryGrace), afterOutage.lostFrom, "its workers get time to reconnect")
}

func TestUntouchedNeedsTheCreationSeenOnTheOpenStream(t *testing.T) {
	create := events.Message{Type: events.ServiceEventType, Action: events.ActionCreate, Actor: events.Actor{ID: "s1"}}
	update := events.Message{Type: events.ServiceEventType, Action: events.ActionUpdate, Actor: events.Actor{ID: "s1"}}
	for _, tc := range []struct {
		name string
		do   func(w *watcher)
		want bool
	}{
		{"created on the open stream", func(w *watcher) { w.streamOpened(); w.handleEvent(create) }, true},
		{"never seen created", func(w *watcher) { w.streamOpened() }, false},
		{"updated since", func(w *watcher) { w.streamOpened(); w.handleEvent(create); w.handleEvent(update) }, false},
		{"the stream broke since", func(w *watcher) { w.streamOpened(); w.handleEvent(create); w.streamClosed() }, false},
		{"seen on an earlier stream", func(w *watcher) {
			w.streamOpened()
			w.handleEvent(create)
			w.streamClosed()
			w.streamOpened()
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWatcher(nil, quietLogger, newFakeClock())
			tc.do(w)
			assert.Equal(t, tc.want, w.untouched("s1"))
		})
	}
}

func TestTheWatcherForgetsOldServicesItDoesNotWatch(t *testing.T) {
	c := newFakeClock()
	w := newWatcher(nil, quietLogger, c)
	w.streamOpened()
	w.jobs["watched"] = []*jobWatch{{serviceID: "watched"}}
	created := func(id string) {
		w.handleEvent(events.Message{Type: events.ServiceEventType, Action: events.ActionCreate, Actor: events.Actor{ID: id}})
	}
	created("watched")
	for i := range serviceMemory {
		created(fmt.Sprint("other", i))
	}
	c.Advance(serviceMemoryAge + time.Second)
	created("new")
	assert.LessOrEqual(t, len(w.services), 2)
	assert.True(t, w.untouched("watched"), "a watched service's record is kept")
	assert.True(t, w.untouched("new"))
}

func TestThePollIsQuietOnlyWhenEveryTaskRunsOnTheRunnersNode(t *testing.T) {
	local := func(state swarm.TaskState) swarm.Task { return task("t", 0, state) } // on n1
	remote := func(state swarm.TaskState) swarm.Task {
		tk := task("t", 0, state)
		tk.NodeID = "n2"
		return tk
	}
	for _, tc := range []struct {
		name   string
		tasks  []swarm.Task
		node   string
		stream bool
		want   bool
	}{
		{"running here", []swarm.Task{local(swarm.TaskStateRunning)}, "n1", true, true},
		{"an ended task elsewhere does not count", []swarm.Task{remote(swarm.TaskStateFailed), local(swarm.TaskStateRunning)}, "n1", true, true},
		{"running elsewhere", []swarm.Task{remote(swarm.TaskStateRunning)}, "n1", true, false},
		{"starting here", []swarm.Task{local(swarm.TaskStateStarting)}, "n1", true, false},
		{"no task yet", nil, "n1", true, false},
		{"the engine's node unknown", []swarm.Task{local(swarm.TaskStateRunning)}, "", true, false},
		{"no event stream", []swarm.Task{local(swarm.TaskStateRunning)}, "n1", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWatcher(nil, quietLogger, newFakeClock())
			w.localNode, w.streamUp = tc.node, tc.stream
			jobs := map[string][]*jobWatch{"s1": {{serviceID: "s1"}}}
			assert.Equal(t, tc.want, w.quiet(jobs, map[string][]swarm.Task{"s1": tc.tasks}))
		})
	}
}

func TestAHungPollIsAbandonedAndTheNextOneEndsTheJob(t *testing.T) {
	r, f, c := newFakeRunner(t)
	job := startRunning(t, r, f, "job1")
	f.hangTaskList.Store(true)
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	await(t, f.hung, "the hung TaskList")
	ch := waitAsync(context.Background(), job)
	c.Advance(pollTimeout)
	f.polls.await(t, r) // the next poll, which the engine answers
	w := await(t, ch, "Wait")
	require.NoError(t, w.err)
	assert.Equal(t, StateComplete, w.res.State)
}

func TestAStartEventGivesTheJobsStartTime(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	handled := handledEvents(r)
	job := startJob(t, context.Background(), r, "job1")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateStarting))
	f.polls.await(t, r)
	started := containerEvent(job, "t1", 0)
	started.Action, started.TimeNano = events.ActionStart, dieAt.Add(-time.Second).UnixNano()
	f.events <- started
	await(t, handled, "the start")
	f.events <- containerEvent(job, "t1", 0) // no poll ever saw it running
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err)
	assert.True(t, w.res.StartedAt.Equal(dieAt.Add(-time.Second)), "the start event's time, not %v", w.res.StartedAt)
}

func TestAKeptJobEndsOnTheManagersRecord(t *testing.T) {
	// Its service stays to be read: its task's state there must be final.
	r, f, _ := newFakeRunner(t)
	handled := handledEvents(r)
	st := newStatuses()
	job := startJob(t, context.Background(), r, "job1", WithKeep(), st.option())
	running(f, job, "t1")
	st.await(t, StateRunning)
	f.events <- containerEvent(job, "t1", 4)
	await(t, handled, "the die")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateFailed, exited(4), withErr("task: non-zero exit (4)")))
	w := await(t, waitAsync(context.Background(), job), "Wait")
	assert.Equal(t, 4, w.res.ExitCode)
	assert.True(t, w.res.FinishedAt.Equal(t0.Add(time.Second)), "the manager's record, not the die event's %v", w.res.FinishedAt)
}

func TestAStoppedJobEndsOnItsContainersKillAndDie(t *testing.T) {
	// The manager has not recorded the task shut down yet (on a loaded
	// swarm it takes seconds): the engine saw its container killed and dead.
	r, f, c := newFakeRunner(t)
	handled := handledEvents(r)
	ctx, cancel := context.WithCancel(context.Background())
	st := newStatuses()
	job := startJob(t, ctx, r, "job1", st.option())
	running(f, job, "t1")
	st.await(t, StateRunning)
	cancel()
	await(t, f.parked, "the job's service parked")
	f.events <- containerEvent(job, "t1", -1)
	f.events <- containerEvent(job, "t1", 143)
	await(t, handled, "the kill")
	await(t, handled, "the die")
	reaped(t, r, f, c)
	w := await(t, waitAsync(context.Background(), job), "Wait")
	var stopErr *StopError
	require.ErrorAs(t, w.err, &stopErr)
	assert.False(t, stopErr.StillRunning)
	assert.Equal(t, 143, w.res.ExitCode)
	assert.Equal(t, StateShutdown, w.res.State)
	assert.True(t, w.res.FinishedAt.Equal(dieAt))
}

func TestATaskShutDownAfterItsNodeWasDownForAMomentIsANodeLoss(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	polls := f.polls
	job := startRunning(t, r, f, "job1")
	f.setNode(swarm.NodeStateDown)
	polls.await(t, r)
	f.setNode(swarm.NodeStateReady)
	polls.await(t, r)
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateShutdown, exited(137)))
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.ErrorIs(t, w.err, ErrNodeLost, "not a removal: nobody removed the service")
	assert.Contains(t, w.err.Error(), "after node node-1 was seen down")
}
