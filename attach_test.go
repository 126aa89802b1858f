package oneshot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Several waiters on one job: two Runners on one fake engine and one fake
// clock stand for two processes, both alive.

// newFakeRunnerOn returns another Runner on the fake engine f and clock c,
// as another process talking to the same swarm.
// Its pollWatch tells when its polls end.
func newFakeRunnerOn(t *testing.T, f *fakeEngine, c *fakeClock) (*Runner, *pollWatch) {
	t.Helper()
	r := &Runner{api: f, log: quietLogger, clock: c, inFlight: map[*Job]bool{}}
	r.watch = newWatcher(f, r.log, c)
	polls := watchPolls(r)
	f.alsoWake(r)
	t.Cleanup(func() { closeOnTheClock(t, r, c) })
	return r, polls
}

// leases returns the waiter leases on the service id.
func (f *fakeEngine) leases(id string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.services[id].Spec.Labels {
		if strings.HasPrefix(k, LabelWaiterPrefix) {
			out[k] = v
		}
	}
	return out
}

func TestTwoProcessesWaitingOnOneJobEachGetTheWholeResult(t *testing.T) {
	r1, f, c := newFakeRunner(t)
	r2, _ := newFakeRunnerOn(t, f, c)
	out1, out2 := newLineWriter(), newLineWriter()
	job1 := startRunning(t, r1, f, "job1")
	job1.spec.Stdout = nil
	f.log("t1").write(false, []byte("before the attach\n"))

	st := newStatuses()
	job2, err := r2.Attach(context.Background(), "job1", WithStdout(out2), st.option())
	require.NoError(t, err)
	assert.True(t, job2.Attached())
	assert.False(t, job1.Attached())
	st.await(t, StateRunning)
	assert.Len(t, f.leases(job1.ServiceID()), 2, "each waiter holds a lease")
	_ = out1

	f.log("t1").write(false, []byte("after\n"))
	f.setTasks(job1.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	w1 := await(t, waitAsync(context.Background(), job1), "the starter's Wait")
	w2 := await(t, waitAsync(context.Background(), job2), "the attached Wait")
	for _, w := range []waited{w1, w2} {
		require.NoError(t, w.err)
		assert.Equal(t, "before the attach\nafter\n", string(w.res.Stdout))
	}
	assert.Equal(t, "before the attach\nafter\n", out2.String(), "streamed from the beginning")
	assert.Equal(t, []string{job1.ServiceID()}, f.removedServices(), "removed once, by the last waiter")
}

func TestAttachWithOutputFromNowStreamsOnlyWhatComesAfter(t *testing.T) {
	r, f, c := newFakeRunner(t)
	job1 := startRunning(t, r, f, "job1")
	f.log("t1").write(false, []byte("early\n"))
	c.Advance(logEpoch.Add(time.Second).Sub(c.Now())) // the attach comes a second after "early" was logged
	live := newLineWriter()
	st := newStatuses()
	job2, err := mustSecondRunner(t, f, c).Attach(context.Background(), "job1", WithStdout(live), WithOutputFromNow(), st.option())
	require.NoError(t, err)
	st.await(t, StateRunning)
	f.log("t1").advance(2 * time.Second)
	f.log("t1").write(false, []byte("late\n"))
	assert.Equal(t, "late\n", await(t, live.writes, "the output after the attach"))
	f.setTasks(job1.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	w := await(t, waitAsync(context.Background(), job2), "Wait")
	require.NoError(t, w.err, "output not streamed on purpose is no loss")
	assert.Equal(t, "early\nlate\n", string(w.res.Stdout), "the Result holds it all")
	assert.Equal(t, "late\n", live.String())
	await(t, waitAsync(context.Background(), job1), "the starter's Wait")
}

func TestTheLastLiveWaiterRemovesTheService(t *testing.T) {
	const live, dead = "live", "dead"
	for _, tc := range []struct {
		name    string
		labels  map[string]string
		keep    bool
		removed bool
		// presence, if set, is the other's Runner's presence holding it:
		// "live", "dead", or "unknown" (it cannot be listed).
		presence string
	}{
		{"the other's lease ended, its Runner's presence holds it", map[string]string{waiterLabel("me"): live, waiterLabel("other"): dead}, false, false, live},
		{"the other's lease and presence ended", map[string]string{waiterLabel("me"): live, waiterLabel("other"): dead}, false, true, dead},
		{"the other's presence cannot be read", map[string]string{waiterLabel("me"): live, waiterLabel("other"): dead}, false, false, "unknown"},
		{"alone", map[string]string{waiterLabel("me"): live}, false, true, ""},
		{"another waits", map[string]string{waiterLabel("me"): live, waiterLabel("other"): live}, false, false, ""},
		{"the other died", map[string]string{waiterLabel("me"): live, waiterLabel("other"): dead}, false, true, ""},
		{"a lease that is not a time", map[string]string{waiterLabel("me"): live, waiterLabel("other"): "soon"}, false, true, ""},
		{"kept", map[string]string{waiterLabel("me"): live}, true, false, ""},
		{"kept by its starter", map[string]string{waiterLabel("me"): live, LabelKeep: "true"}, false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, f, c := newFakeRunner(t)
			now := c.Now()
			live, dead := leaseValue(now.Add(time.Minute)), leaseValue(now.Add(-time.Second))
			labels := map[string]string{}
			for k, v := range tc.labels {
				switch v {
				case "live":
					v = live
				case "dead":
					v = dead
				}
				labels[k] = v
			}
			f.services["svc"] = swarm.Service{ID: "svc", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "job", Labels: labels}}}
			switch tc.presence {
			case "live", "dead":
				until, _ := time.Parse(time.RFC3339, map[string]string{"live": live, "dead": dead}[tc.presence])
				_, err := f.jobData().create("config", swarm.Annotations{Name: presenceName("r2"),
					Labels: presenceLabels("r2", map[string]bool{"other": true}, until)}, nil)
				require.NoError(t, err)
			case "unknown":
				f.jobData().listErr = errors.New("manager busy")
			}
			j := r.newJob(JobSpec{Keep: tc.keep}, "job", "svc", "me", now)
			removed, err := j.leaveService()
			require.NoError(t, err)
			assert.Equal(t, tc.removed, removed)
			if !tc.removed {
				assert.NotContains(t, f.leases("svc"), waiterLabel("me"), "its own lease is dropped")
				assert.Len(t, f.leases("svc"), len(tc.labels)-1-boolInt(tc.labels[LabelKeep] != ""))
			}
		})
	}
}

// A waiter leaving reads the service first (another may wait on it): a
// read that fails is made again, as a remove is, and one that keeps
// failing says so in the Result's CleanupErr, the service left for Prune.
func TestALeavingWaitersFailedReadIsMadeAgain(t *testing.T) {
	busy := errors.New("connection reset by peer")
	for _, tc := range []struct {
		name     string
		err      error
		fails    int
		removed  bool
		inspects int
	}{
		{"once", busy, 1, true, 2},
		{"three times", busy, removeTries - 1, true, removeTries},
		{"every time", busy, removeTries, false, removeTries},
		{"the swarm has no leader for a while", errManagerNoLeader, 9, true, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, f, c := newFakeRunner(t)
			labels := map[string]string{waiterLabel("me"): leaseValue(c.Now().Add(time.Minute))}
			f.services["svc"] = swarm.Service{ID: "svc", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "job", Labels: labels}}}
			f.inspectErr, f.inspectFails = tc.err, tc.fails
			j := r.newJob(JobSpec{}, "job", "svc", "me", c.Now())
			type left struct {
				removed bool
				err     error
			}
			leaving := make(chan left, 1)
			go func() {
				removed, err := j.leaveService()
				leaving <- left{removed, err}
			}()
			cleanupPausesPass(t, c, tc.inspects, "(*Job).leaveService")
			l := await(t, leaving, "leaveService")
			removed, err := l.removed, l.err
			assert.Equal(t, tc.removed, removed)
			assert.Equal(t, tc.inspects, f.callCount("ServiceInspect"))
			if tc.removed {
				require.NoError(t, err)
				assert.Equal(t, []string{"svc"}, f.removedServices())
				return
			}
			var cleanupErr *CleanupError
			require.ErrorAs(t, err, &cleanupErr)
			assert.Contains(t, err.Error(), fmt.Sprintf("connection reset by peer (tried %d times)", removeTries))
			assert.Empty(t, f.removedServices())
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestTwoWaitersLeavingAtOnceRemoveTheServiceOnce(t *testing.T) {
	for range 50 {
		r, f, c := newFakeRunner(t)
		now := c.Now()
		lease := leaseValue(now.Add(time.Minute))
		f.services["svc"] = swarm.Service{ID: "svc", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "job",
			Labels: map[string]string{waiterLabel("a"): lease, waiterLabel("b"): lease}}}}
		a, b := r.newJob(JobSpec{}, "job", "svc", "a", now), r.newJob(JobSpec{}, "job", "svc", "b", now)
		var wg sync.WaitGroup
		for _, j := range []*Job{a, b} {
			wg.Go(func() {
				_, err := j.leaveService()
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		require.Equal(t, []string{"svc"}, f.removedServices(), "neither leaves it to the other")
	}
}

func TestAnIdempotencyKeyMakesOneJob(t *testing.T) {
	r1, f, c := newFakeRunner(t)
	r2, _ := newFakeRunnerOn(t, f, c)
	const starts = 10
	jobs := make(chan *Job, starts)
	var wg sync.WaitGroup
	for i := range starts {
		r := []*Runner{r1, r2}[i%2]
		wg.Go(func() {
			job, err := r.Start(context.Background(), JobSpec{Image: "migrate:v7"}, WithIdempotencyKey("migrate to v7"))
			if assert.NoError(t, err) {
				jobs <- job
			}
		})
	}
	wg.Wait()
	close(jobs)
	assert.Equal(t, 1, f.callCount("ServiceCreate")-(starts-1), "one create succeeded; the others found its name taken")
	f.mu.Lock()
	created := len(f.created)
	f.mu.Unlock()
	require.Equal(t, 1, created)
	var all []*Job
	started := 0
	for j := range jobs {
		all = append(all, j)
		if !j.Attached() {
			started++
		}
	}
	require.Len(t, all, starts)
	assert.Equal(t, 1, started, "one Start started it, the others attached")
	id := all[0].ServiceID()
	assert.Equal(t, keyName("migrate to v7"), all[0].Name())
	f.setTasks(id, task("t1", 0, swarm.TaskStateRunning, exited(0)))
	f.log("t1").write(false, []byte("migrated\n"))
	f.setTasks(id, task("t1", 0, swarm.TaskStateComplete, exited(0)))
	for _, j := range all {
		w := await(t, waitAsync(context.Background(), j), "Wait")
		require.NoError(t, w.err)
		assert.Equal(t, "migrated\n", string(w.res.Stdout))
	}
	assert.Equal(t, []string{id}, f.removedServices())
}

func TestAKeyDoesNotAttachToAServiceStartedWithoutIt(t *testing.T) {
	r, _, _ := newFakeRunner(t)
	startJob(t, context.Background(), r, "job1")
	_, err := r.Start(context.Background(), JobSpec{Image: "app:v1", Name: "job1"}, WithIdempotencyKey("k"))
	var specErr *SpecError
	require.ErrorAs(t, err, &specErr)
	assert.Equal(t, "Name", specErr.Field)
}

func TestAttachToAJobThatEndedGivesItsResult(t *testing.T) {
	r1, f, c := newFakeRunner(t)
	job1 := startRunning(t, r1, f, "job1")
	job1.Detach()
	_, err := job1.Wait(context.Background())
	require.ErrorIs(t, err, ErrDetached)
	assert.Empty(t, f.leases(job1.ServiceID()), "a detached Job drops its lease")
	assert.Empty(t, f.removedServices(), "and leaves the job running")
	f.log("t1").write(true, []byte("failed\n"))
	f.setTasks(job1.ServiceID(), task("t1", 0, swarm.TaskStateFailed, exited(4)))

	job2, err := mustSecondRunner(t, f, c).Attach(context.Background(), job1.ServiceID())
	require.NoError(t, err)
	w := await(t, waitAsync(context.Background(), job2), "Wait")
	var exitErr *ExitError
	require.ErrorAs(t, w.err, &exitErr)
	assert.Equal(t, 4, exitErr.ExitCode())
	assert.Equal(t, "failed\n", string(w.res.Stderr))
	assert.Equal(t, []string{job1.ServiceID()}, f.removedServices())
}

func TestStopByOneWaiterReachesTheOthers(t *testing.T) {
	r1, f, c := newFakeRunner(t)
	job1 := startRunning(t, r1, f, "job1")
	st := newStatuses()
	r2, p2 := newFakeRunnerOn(t, f, c)
	job2, err := r2.Attach(context.Background(), "job1", st.option())
	require.NoError(t, err)
	st.await(t, StateRunning)
	job2.Stop()
	await(t, f.parked, "the job's service parked")
	stoppedWith(f, job1, "t1", 143)
	// The starter's supervisor ends as soon as a poll of its Runner sees
	// the task shut down beside the parked one: that Runner may then poll
	// no more, so only the stopper's poll is awaited, and the stopper
	// waits for the reaper's settling time.
	p2.await(t, r2)
	c.Advance(reaperSettle)

	w2 := await(t, waitAsync(context.Background(), job2), "the stopper's Wait")
	var stopErr *StopError
	require.ErrorAs(t, w2.err, &stopErr)
	assert.ErrorIs(t, w2.err, ErrJobStopped)
	assert.Equal(t, 143, w2.res.ExitCode)
	assert.Contains(t, w2.err.Error(), "stopped: by Job.Stop")

	w1 := await(t, waitAsync(context.Background(), job1), "the starter's Wait")
	var taskErr *TaskError
	require.ErrorAs(t, w1.err, &taskErr)
	assert.ErrorIs(t, w1.err, ErrJobStopped)
	assert.Contains(t, w1.err.Error(), "another process waiting on the job stopped it")
	assert.Equal(t, []string{job1.ServiceID()}, f.removedServices())
}

func TestAnAttachedWaiterKeepsTheJobsOwnTimeout(t *testing.T) {
	r1, f, c := newFakeRunner(t)
	st := newStatuses()
	job1 := startJob(t, context.Background(), r1, "job1", WithTimeout(time.Hour), st.option())
	running(f, job1, "t1")
	st.await(t, StateRunning)
	job1.Detach() // its process is gone, say

	r2, p2 := newFakeRunnerOn(t, f, c)
	job2, err := r2.Attach(context.Background(), "job1")
	require.NoError(t, err)
	c.Advance(time.Hour)
	await(t, f.parked, "the job's service parked when its timeout expired")
	stoppedWith(f, job1, "t1", 143)
	p2.await(t, r2)
	c.Advance(reaperSettle)
	w := await(t, waitAsync(context.Background(), job2), "Wait")
	require.ErrorIs(t, w.err, context.DeadlineExceeded)
	assert.Contains(t, w.err.Error(), "its timeout of 1h0m0s expired")
}

func TestAttachNamesWhatIsWrong(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	f.services["web"] = swarm.Service{ID: "web", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"}}}
	f.services["svc-crawl-0"] = swarm.Service{ID: "svc-crawl-0", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "crawl-0",
		Labels: map[string]string{LabelManaged: "true", LabelJob: "crawl"}}}}
	for _, tc := range []struct {
		name, target string
		opts         []Option
		want         string
		is           error
	}{
		{"no such job", "nope", nil, "no job service of that name or ID", ErrServiceNotFound},
		{"not a job", "web", nil, "the service is not a oneshot job", nil},
		{"a job of tasks", "crawl", nil, "attach to each", ErrServiceNotFound},
		{"an option about what runs", "crawl-0", []Option{WithImage("x")}, "Attach takes only options about waiting", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Attach(context.Background(), tc.target, tc.opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestPruneLeavesAJobALiveProcessWaitsOn(t *testing.T) {
	r, f, c := newFakeRunner(t)
	now := c.Now()
	for _, s := range []struct{ id, lease string }{{"live", leaseValue(now.Add(time.Minute))}, {"dead", leaseValue(now.Add(-time.Minute))}} {
		f.services[s.id] = swarm.Service{ID: s.id, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: s.id,
			Labels: map[string]string{LabelManaged: "true", waiterLabel("w"): s.lease}}}}
		f.setTasks(s.id, task("t-"+s.id, 0, swarm.TaskStateComplete, exited(0)))
	}
	pruned, err := r.Prune(context.Background())
	require.NoError(t, err)
	require.Len(t, pruned, 1)
	assert.Equal(t, "dead", pruned[0].ID, "a process that died holds its job only until its lease expires")
}

// mustSecondRunner is another process's Runner, for tests that need
// nothing else of it.
func mustSecondRunner(t *testing.T, f *fakeEngine, c *fakeClock) *Runner {
	r, _ := newFakeRunnerOn(t, f, c)
	return r
}
