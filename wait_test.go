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

func TestADieEventWakesThePoll(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	job := startRunning(t, r, f, "job1")
	// The task ends without the fake engine waking the poll: only the
	// container's die event can (the fake clock never fires its timer).
	f.mu.Lock()
	f.tasks[job.ServiceID()] = []swarm.Task{task("t1", 0, swarm.TaskStateComplete, exited(0))}
	f.tasks[job.ServiceID()][0].ServiceID = job.ServiceID()
	f.mu.Unlock()
	f.events <- events.Message{Type: events.ContainerEventType, Action: events.ActionDie,
		Actor: events.Actor{ID: "c1", Attributes: map[string]string{"com.docker.swarm.service.id": job.ServiceID()}}}
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err)
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
	now := t0
	p := pace{interval: minPoll}
	var got []time.Duration
	for _, changed := range []bool{true, false, false, false, false, false, false, false, false, false, false, false} {
		p.polled(changed, now)
		got = append(got, p.interval)
	}
	assert.Equal(t, minPoll, got[0], "fast while things change")
	for i := 2; i < len(got); i++ {
		assert.GreaterOrEqual(t, got[i], got[i-1], "slower while nothing changes")
	}
	assert.Equal(t, maxPoll, got[len(got)-1], "up to maxPoll")
	p.woken(true, now)
	assert.Equal(t, minPoll, p.interval, "an event wakes it up")
	p.polled(false, now.Add(burstLen/2))
	assert.Equal(t, burstPoll, p.interval, "and keeps it fast for a burst")
	p.polled(false, now.Add(burstLen))
	assert.Greater(t, p.interval, burstPoll, "then backs off again")
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
