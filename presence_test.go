package oneshot

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// presenceOf returns the presence configs on the fake swarm.
func presenceOf(f *fakeEngine) []fakeDataItem {
	var out []fakeDataItem
	for _, it := range f.jobData().all() {
		if it.kind == "config" && it.meta.Labels[LabelRunner] != "" {
			out = append(out, it)
		}
	}
	return out
}

// tick moves the clock to the presence's next renewal.
func tick(t *testing.T, c *fakeClock) {
	t.Helper()
	c.awaitTimer(t, leaseRenewEvery-c.Now().Sub(t0)%leaseRenewEvery, "(*Runner).nextRenewal")
	c.Advance(leaseRenewEvery - c.Now().Sub(t0)%leaseRenewEvery)
}

func TestAPresenceHoldsTheLeasesOfLongJobsAndGoesWithThem(t *testing.T) {
	r, f, c := newFakeRunner(t)
	jobs := []*Job{startJob(t, context.Background(), r, "job1"), startJob(t, context.Background(), r, "job2")}
	for _, j := range jobs {
		running(f, j, "t-"+j.name)
	}
	tick(t, c) // a minute in: the leases on the services last two more
	c.awaitTimer(t, leaseRenewEvery, "(*Runner).nextRenewal")
	assert.Empty(t, presenceOf(f), "nothing to hold yet")
	assert.Empty(t, f.jobData().made)
	tick(t, c)
	await(t, f.jobData().made, "the presence made")
	held := presenceOf(f)
	require.Len(t, held, 1)
	labels := held[0].meta.Labels
	assert.Equal(t, leaseValue(c.Now().Add(leaseTTL)), labels[LabelRunnerAliveUntil])
	for _, j := range jobs {
		assert.Contains(t, labels, LabelRunnerHoldsPrefix+j.waiter)
	}
	tick(t, c)
	assert.Equal(t, "config", await(t, f.jobData().updated, "the presence renewed"))
	assert.Equal(t, leaseValue(c.Now().Add(leaseTTL)), presenceOf(f)[0].meta.Labels[LabelRunnerAliveUntil])
	assert.Zero(t, f.callCount("ServiceInspect")+f.callCount("ServiceUpdate"), "no request on the jobs' services")

	for _, j := range jobs {
		f.setTasks(j.ServiceID(), task("t-"+j.name, 0, swarm.TaskStateComplete, exited(0)))
		w := await(t, waitAsync(context.Background(), j), "Wait")
		require.NoError(t, w.err)
	}
	assert.Empty(t, presenceOf(f), "removed with the last job it held, before its Wait returned")
	assert.Equal(t, 2, f.callCount("ServiceRemove"))
}

func TestWithoutAPresenceEachLeaseIsRenewedOnItsService(t *testing.T) {
	r, f, c := newFakeRunner(t)
	r.presence.id = "r1"
	f.jobData().failCreate = "r1"
	job := startRunning(t, r, f, "job1")
	updates := make(chan swarm.ServiceSpec, 4)
	f.mu.Lock()
	f.onUpdate = func(s swarm.ServiceSpec) { updates <- s }
	f.mu.Unlock()
	tick(t, c)
	tick(t, c)
	renewed := await(t, updates, "the lease renewed on the service")
	expires, err := time.Parse(time.RFC3339, renewed.Labels[waiterLabel(job.waiter)])
	require.NoError(t, err)
	assert.Equal(t, c.Now().Add(leaseTTL).Truncate(time.Second), expires)
	assert.NotContains(t, renewed.TaskTemplate.ContainerSpec.Labels, waiterLabel(job.waiter), "on the service only: the task is left alone")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err)
	assert.Nil(t, w.res.CleanupErr)
	assert.Empty(t, presenceOf(f))
}

func TestPruneHonoursLivePresencesAndRemovesExpiredOnes(t *testing.T) {
	r, f, c := newFakeRunner(t)
	now := c.Now()
	presence := func(id string, until time.Time, holds ...string) {
		_, err := f.jobData().create("config", swarm.Annotations{Name: presenceName(id),
			Labels: presenceLabels(id, map[string]bool{holds[0]: true}, until)}, nil)
		require.NoError(t, err)
	}
	presence("alive", now.Add(time.Minute), "w-held")
	presence("dead", now.Add(-time.Second), "w-dead")
	ended := leaseValue(now.Add(-time.Minute))
	for _, waiter := range []string{"w-held", "w-dead", "w-none"} {
		f.services[waiter] = swarm.Service{ID: waiter, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: waiter,
			Labels: map[string]string{LabelManaged: "true", waiterLabel(waiter): ended}}}}
		f.setTasks(waiter, task("t-"+waiter, 0, swarm.TaskStateComplete, exited(0)))
	}
	pruned, err := r.Prune(context.Background())
	require.NoError(t, err)
	var names []string
	for _, p := range pruned {
		names = append(names, p.Name)
	}
	assert.ElementsMatch(t, []string{"w-dead", "w-none"}, names, "a live presence holds its waiter's job")
	left := presenceOf(f)
	require.Len(t, left, 1, "the expired presence is removed")
	assert.Equal(t, presenceName("alive"), left[0].meta.Name)

	infos, err := r.Jobs(context.Background())
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, 1, infos[0].Waiters, "held")
}

func TestAPresenceGoesOnceTheLongJobsItHeldAreOver(t *testing.T) {
	r, f, c := newFakeRunner(t)
	long := startJob(t, context.Background(), r, "long")
	running(f, long, "t-long")
	tick(t, c)
	tick(t, c)
	await(t, f.jobData().made, "the presence made")
	short := startJob(t, context.Background(), r, "short")
	running(f, short, "t-short")
	f.setTasks(long.ServiceID(), task("t-long", 0, swarm.TaskStateComplete, exited(0)))
	require.NoError(t, await(t, waitAsync(context.Background(), long), "Wait").err)
	require.Len(t, presenceOf(f), 1, "a job is still in flight")
	tick(t, c)
	c.awaitTimer(t, leaseRenewEvery, "(*Runner).nextRenewal") // the renewal is done
	assert.Empty(t, presenceOf(f), "nothing to hold: the short job's own lease lasts")
	f.setTasks(short.ServiceID(), task("t-short", 0, swarm.TaskStateComplete, exited(0)))
	require.NoError(t, await(t, waitAsync(context.Background(), short), "Wait").err)
}

func TestAPresenceMadeByACreateWhoseAnswerWasLostIsTaken(t *testing.T) {
	r, f, c := newFakeRunner(t)
	r.presence.id = "r1"
	_, err := f.jobData().create("config", swarm.Annotations{Name: presenceName("r1"),
		Labels: presenceLabels("r1", nil, c.Now().Add(time.Minute))}, nil)
	require.NoError(t, err)
	<-f.jobData().made
	job := startRunning(t, r, f, "job1")
	tick(t, c)
	tick(t, c)
	assert.Equal(t, "config", await(t, f.jobData().updated, "the presence taken and written"))
	held := presenceOf(f)
	require.Len(t, held, 1)
	assert.Contains(t, held[0].meta.Labels, LabelRunnerHoldsPrefix+job.waiter)
	assert.Zero(t, f.callCount("ServiceUpdate"), "no lease renewed on the service")
}

func TestAPresenceRemovedUnderItIsMadeAgain(t *testing.T) {
	r, f, c := newFakeRunner(t)
	job := startRunning(t, r, f, "job1")
	tick(t, c)
	tick(t, c)
	await(t, f.jobData().made, "the presence made")
	held := presenceOf(f)
	require.Len(t, held, 1)
	require.NoError(t, f.jobData().remove("config", held[0].id), "a Prune took it, once expired")
	tick(t, c)
	await(t, f.jobData().made, "the presence made again")
	again := presenceOf(f)
	require.Len(t, again, 1)
	assert.NotEqual(t, held[0].id, again[0].id)
	assert.Contains(t, again[0].meta.Labels, LabelRunnerHoldsPrefix+job.waiter)
	tick(t, c)
	assert.Equal(t, "config", await(t, f.jobData().updated, "the new one renewed"))
	f.setTasks(job.ServiceID(), task("t-job1", 0, swarm.TaskStateComplete, exited(0)))
	require.NoError(t, await(t, waitAsync(context.Background(), job), "Wait").err)
	assert.Empty(t, presenceOf(f), "the new one removed with its job")
}
