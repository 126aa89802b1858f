package oneshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The job's life on a fake engine and a fake clock: every step is driven
// by the test (a task's state, a log line, the time), and every wait is on
// a channel that says the step was taken. Nothing sleeps.

var quietLogger = slog.New(slog.DiscardHandler)

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

// statuses records the task states a job reports, in order, and lets a
// test wait for one.
type statuses struct {
	mu   sync.Mutex
	seen []TaskState
	ch   chan TaskState
}

func newStatuses() *statuses { return &statuses{ch: make(chan TaskState, 64)} }

func (s *statuses) option() Option {
	return WithStatusFunc(func(st TaskStatus) {
		s.mu.Lock()
		s.seen = append(s.seen, st.State)
		s.mu.Unlock()
		s.ch <- st.State
	})
}

func (s *statuses) await(t *testing.T, want TaskState) {
	t.Helper()
	for {
		if got := await(t, s.ch, "task state "+string(want)); got == want {
			return
		}
	}
}

// lineWriter is a live writer that tells a test each time it is written to.
type lineWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes chan string
}

func newLineWriter() *lineWriter { return &lineWriter{writes: make(chan string, 64)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	w.writes <- string(p)
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func startJob(t *testing.T, ctx context.Context, r *Runner, name string, opts ...Option) *Job {
	t.Helper()
	job, err := r.Start(ctx, JobSpec{Image: "app:v1", Name: name}, opts...)
	require.NoError(t, err)
	return job
}

// running sets the job's task running, on node n1.
func running(f *fakeEngine, job *Job, id string) {
	f.setTasks(job.ServiceID(), task(id, 0, swarm.TaskStateRunning, exited(0)))
}

// startRunning starts a job and returns once it has seen its task "t1"
// running.
func startRunning(t *testing.T, r *Runner, f *fakeEngine, name string) *Job {
	t.Helper()
	st := newStatuses()
	job := startJob(t, context.Background(), r, name, st.option())
	running(f, job, "t1")
	st.await(t, StateRunning)
	return job
}

// stoppedWith sets a parked job's task as the swarm reports it once its
// container has exited.
func stoppedWith(f *fakeEngine, job *Job, id string, code int) {
	f.setTasks(job.ServiceID(), task(id, 0, swarm.TaskStateShutdown, exited(code)))
}

func TestAJobRunsToItsEnd(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	st := newStatuses()
	live := newLineWriter()
	job := startJob(t, context.Background(), r, "job1", WithStdout(live), st.option())
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStatePending, unassigned))
	st.await(t, StatePending)
	running(f, job, "t1")
	st.await(t, StateRunning)
	f.log("t1").write(false, []byte("hello\n"))
	assert.Equal(t, "hello\n", await(t, live.writes, "live output"), "output streams before Wait is called")
	f.log("t1").write(true, []byte("oops\n"))
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateFailed, exited(3)))

	w := await(t, waitAsync(context.Background(), job), "Wait")
	var exitErr *ExitError
	require.ErrorAs(t, w.err, &exitErr)
	assert.Equal(t, 3, exitErr.ExitCode())
	assert.Equal(t, "oops\n", string(exitErr.Stderr))
	assert.Equal(t, "hello\n", string(w.res.Stdout))
	assert.Equal(t, "oops\n", string(w.res.Stderr))
	assert.Equal(t, "hello\n", live.String(), "written once, by the follower and the final read together")
	assert.Equal(t, []TaskState{StatePending, StateRunning, StateFailed}, st.seen)
	assert.Equal(t, []string{job.ServiceID()}, f.removedServices())
	assert.False(t, w.res.StartedAt.IsZero())

	_, err := job.Wait(context.Background())
	assert.ErrorIs(t, err, errWaitCalled)
}

func TestSuccessIsNilEvenWhenTheServiceCannotBeRemoved(t *testing.T) {
	r, f, c := newFakeRunner(t)
	f.removeErr = errors.New("manager busy")
	job := startJob(t, context.Background(), r, "job1")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	waiting := waitAsync(context.Background(), job)
	cleanupPausesPass(t, c, removeTries, "(*Runner).removeService")
	w := await(t, waiting, "Wait")
	require.NoError(t, w.err, "housekeeping does not turn success into failure")
	var cleanupErr *CleanupError
	require.ErrorAs(t, w.res.CleanupErr, &cleanupErr)
	assert.Equal(t, job.ServiceID(), cleanupErr.ServiceID)
}

// A remove that fails is made again: a loaded engine may fail one call,
// and a service left behind is what oneshot must not do. One whose answer
// was lost but that removed the service finds it gone the next time.
func TestARemoveThatFailsIsMadeAgain(t *testing.T) {
	busy := errors.New("connection reset by peer")
	for _, tc := range []struct {
		name           string
		err            error
		fails          int
		removedAnyway  bool
		wantCalls      int
		wantCleanupErr bool
	}{
		{name: "once", err: busy, fails: 1, wantCalls: 2},
		{name: "three times", err: busy, fails: 3, wantCalls: 4},
		{name: "every time", err: busy, fails: 0, wantCalls: removeTries, wantCleanupErr: true},
		{name: "its answer lost", err: busy, fails: 1, removedAnyway: true, wantCalls: 2},
		// No manager could serve those tries: they do not count.
		{name: "the swarm has no leader for a while", err: errManagerNoLeader, fails: 9, wantCalls: 10},
		{name: "no manager reachable for a while", err: errManagerRefused, fails: 9, wantCalls: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, f, c := newFakeRunner(t)
			f.removeErr, f.removeFails, f.removedAnyway = tc.err, tc.fails, tc.removedAnyway
			job := startJob(t, context.Background(), r, "job1")
			f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
			waiting := waitAsync(context.Background(), job)
			cleanupPausesPass(t, c, tc.wantCalls, "(*Runner).removeService")
			w := await(t, waiting, "Wait")
			require.NoError(t, w.err)
			assert.Equal(t, tc.wantCalls, f.callCount("ServiceRemove"))
			if tc.wantCleanupErr {
				var cleanupErr *CleanupError
				require.ErrorAs(t, w.res.CleanupErr, &cleanupErr)
				assert.Contains(t, cleanupErr.Error(), tc.err.Error())
				assert.Contains(t, cleanupErr.Error(), fmt.Sprintf("tried %d times", removeTries))
				return
			}
			assert.NoError(t, w.res.CleanupErr)
			assert.Equal(t, []string{job.ServiceID()}, f.removedServices())
		})
	}
}

// cleanupPausesPass lets the pauses between the tries of a cleanup call
// made by the function by pass on the fake clock, until the last of tries.
func cleanupPausesPass(t *testing.T, c *fakeClock, tries int, by string) {
	t.Helper()
	for n := 1; n < tries; n++ {
		c.awaitTimer(t, cleanupPause(n), by)
		c.Advance(cleanupPause(n))
	}
}

func TestOutputThatCannotBeReadIsAnErrorEvenAfterExitZero(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	f.logErr = errors.New("node gone")
	job := startJob(t, context.Background(), r, "job1")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.ErrorIs(t, w.err, ErrOutputIncomplete)
	var outErr *OutputError
	require.ErrorAs(t, w.err, &outErr)
	assert.Equal(t, OutputLost, outErr.Problem)
	assert.Contains(t, w.err.Error(), "node gone")
	var exitErr *ExitError
	assert.False(t, errors.As(w.err, &exitErr))
	assert.Equal(t, 0, w.res.ExitCode, "the job's own outcome is still there")
}

// stopScenario starts a job, lets it run and print, stops it with stop,
// and lets it print while it stops and end with code 143.
func stopScenario(t *testing.T, stop func(r *Runner, c *fakeClock, cancelStart context.CancelFunc, job *Job), opts ...Option) (waited, *fakeEngine, *Job) {
	t.Helper()
	r, f, c := newFakeRunner(t)
	st := newStatuses()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	job := startJob(t, ctx, r, "job1", append(opts, st.option())...)
	running(f, job, "t1")
	st.await(t, StateRunning)
	f.log("t1").write(false, []byte("working\n"))
	stop(r, c, cancel, job)
	assert.Equal(t, job.ServiceID(), await(t, f.parked, "the job's service parked"))
	f.log("t1").write(false, []byte("got SIGTERM, cleaning up\n"))
	assert.Empty(t, f.removedServices(), "not removed while its task runs")
	stoppedWith(f, job, "t1", 143)
	reaped(t, r, f, c)
	return await(t, waitAsync(context.Background(), job), "Wait"), f, job
}

// reaped lets the time pass that a parked service waits before it is
// removed (reaperSettle), once a poll has seen it parked.
func reaped(t *testing.T, r *Runner, f *fakeEngine, c *fakeClock) {
	t.Helper()
	f.polls.await(t, r)
	c.Advance(reaperSettle)
}

func TestAStoppedJobHasEndedWhenWaitReturns(t *testing.T) {
	cases := []struct {
		name   string
		opts   []Option
		stop   func(*Runner, *fakeClock, context.CancelFunc, *Job)
		reason error
		says   string
	}{
		{name: "Start's context", stop: func(_ *Runner, _ *fakeClock, cancel context.CancelFunc, _ *Job) { cancel() },
			reason: context.Canceled, says: "the context given to Start is done: context canceled"},
		{name: "the timeout", opts: []Option{WithTimeout(time.Minute)}, stop: func(_ *Runner, c *fakeClock, _ context.CancelFunc, _ *Job) { c.Advance(time.Minute) },
			reason: context.DeadlineExceeded, says: "its timeout of 1m0s expired"},
		{name: "Wait's context", stop: func(_ *Runner, _ *fakeClock, _ context.CancelFunc, job *Job) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			go func() { _, _ = job.Wait(ctx) }()
		}, reason: context.Canceled, says: "the context given to Wait is done"},
		{name: "Runner.Close", stop: func(r *Runner, _ *fakeClock, _ context.CancelFunc, _ *Job) { go func() { _ = r.Close() }() },
			reason: ErrRunnerClosed, says: "its Runner was closed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, _, job := stopScenario(t, tc.stop, tc.opts...)
			if tc.name == "Wait's context" {
				return // that Wait got the result; this one is refused
			}
			require.ErrorIs(t, w.err, tc.reason)
			for _, other := range []error{context.Canceled, context.DeadlineExceeded, ErrRunnerClosed} {
				if other != tc.reason {
					assert.NotErrorIs(t, w.err, other, "a stop matches one reason only")
				}
			}
			var stopErr *StopError
			require.ErrorAs(t, w.err, &stopErr)
			assert.False(t, stopErr.StillRunning)
			assert.Contains(t, w.err.Error(), tc.says)
			assert.Contains(t, w.err.Error(), "exited with code 143")
			assert.Equal(t, 143, w.res.ExitCode)
			assert.Equal(t, StateShutdown, w.res.State)
			assert.Equal(t, "working\ngot SIGTERM, cleaning up\n", string(w.res.Stdout), "what it printed while stopping too")
			assert.Equal(t, job.Name(), stopErr.Job)
		})
	}
}

func TestWaitsContextStopsTheJob(t *testing.T) {
	r, f, c := newFakeRunner(t)
	job := startJob(t, context.Background(), r, "job1")
	running(f, job, "t1")
	ctx, cancel := context.WithCancel(context.Background())
	ch := waitAsync(ctx, job)
	cancel()
	await(t, f.parked, "the job's service parked")
	stoppedWith(f, job, "t1", 143)
	reaped(t, r, f, c)
	w := await(t, ch, "Wait")
	require.ErrorIs(t, w.err, context.Canceled)
	assert.Contains(t, w.err.Error(), "the context given to Wait is done")
	assert.Equal(t, []string{job.ServiceID()}, f.removedServices())
}

func TestTheFirstReasonToStopIsTheOneReported(t *testing.T) {
	r, f, c := newFakeRunner(t)
	start, cancelStart := context.WithCancelCause(context.Background())
	job := startJob(t, start, r, "job1")
	running(f, job, "t1")
	cancelStart(context.DeadlineExceeded) // as a deadline would, with its cause
	await(t, f.parked, "the job's service parked")
	waitCtx, cancelWait := context.WithCancel(context.Background())
	cancelWait() // a second reason, later
	ch := waitAsync(waitCtx, job)
	stoppedWith(f, job, "t1", 143)
	reaped(t, r, f, c)
	w := await(t, ch, "Wait")
	require.ErrorIs(t, w.err, context.Canceled)
	assert.Contains(t, w.err.Error(), "the context given to Start")
	assert.NotContains(t, w.err.Error(), "Wait")
}

func TestAStopThatDoesNotEndTheTaskIsBoundedAndSaysSo(t *testing.T) {
	r, f, c := newFakeRunner(t)
	ctx, cancel := context.WithCancel(context.Background())
	job := startJob(t, ctx, r, "job1", WithStopGracePeriod(3*time.Second))
	running(f, job, "t1")
	cancel()
	await(t, f.parked, "the job's service parked")
	f.polls.await(t, r)
	c.Advance(3*time.Second + stopMargin)
	w := await(t, waitAsync(context.Background(), job), "Wait")
	var stopErr *StopError
	require.ErrorAs(t, w.err, &stopErr)
	assert.True(t, stopErr.StillRunning)
	assert.Contains(t, w.err.Error(), "may still be running")
	assert.Contains(t, w.err.Error(), fmt.Sprintf("had not ended %s after it was asked to stop", 3*time.Second+stopMargin))
	assert.Equal(t, []string{job.ServiceID()}, f.removedServices(), "removed all the same: the swarm kills it")
}

func TestAKeptJobIsStoppedToo(t *testing.T) {
	w, f, job := stopScenario(t, func(_ *Runner, c *fakeClock, _ context.CancelFunc, _ *Job) { c.Advance(time.Second) },
		WithKeep(), WithTimeout(time.Second))
	require.ErrorIs(t, w.err, context.DeadlineExceeded)
	assert.Empty(t, f.removedServices(), "kept")
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.updates, 2, "parked, then its waiter's lease dropped")
	last := f.updates[1]
	assert.Contains(t, last.TaskTemplate.Placement.Constraints, parkConstraint, "kept parked: not scaled to zero (see parkConstraint)")
	assert.Equal(t, uint64(1), *last.Mode.Replicated.Replicas)
	assert.Empty(t, liveWaiters(last.Labels, time.Time{}, "", nil), "nobody waits on it: Prune may remove it")
	assert.True(t, slices.ContainsFunc(f.tasks[job.ServiceID()], parked))
}

func TestStartsContextStopsAJobNobodyWaitsFor(t *testing.T) {
	r, f, c := newFakeRunner(t)
	removed := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	job := startJob(t, ctx, r, "job1")
	running(f, job, "t1")
	cancel()
	await(t, f.parked, "the job's service parked")
	stoppedWith(f, job, "t1", 143)
	reaped(t, r, f, c)
	go func() { <-job.done; close(removed) }()
	await(t, removed, "the supervisor to finish without Wait")
	assert.Equal(t, []string{job.ServiceID()}, f.removedServices())
}

func TestACreateUnderWayIsSeenThroughThenStopped(t *testing.T) {
	r, f, c := newFakeRunner(t)
	f.createGate = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *Job, 1)
	go func() {
		job, err := r.Start(ctx, JobSpec{Image: "app:v1", Name: "job1"})
		assert.NoError(t, err, "the create was sent: Start sees it through")
		started <- job
	}()
	await(t, f.creating, "the create request")
	cancel()
	close(f.createGate)
	job := await(t, started, "Start")
	await(t, f.parked, "the job's service parked")
	reaped(t, r, f, c)
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.ErrorIs(t, w.err, context.Canceled)
	assert.Contains(t, w.err.Error(), "job1")
	assert.Contains(t, w.err.Error(), "had not started")
	assert.Equal(t, []string{job.ServiceID()}, f.removedServices())
}

func TestACancelledStartCreatesNothing(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Start(ctx, JobSpec{Image: "app:v1", Name: "job1"})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "job job1 not started")
	assert.Zero(t, f.callCount("ServiceCreate"))
}

func TestACreateThatFailedButMadeTheServiceRemovesIt(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	f.createErr, f.createdAnyway = errors.New("connection reset by peer"), true
	_, err := r.Start(context.Background(), JobSpec{Image: "app:v1", Name: "job1"})
	require.ErrorContains(t, err, "connection reset by peer")
	assert.Equal(t, []string{"svc-job1"}, f.removedServices(), "found by its name and creation label, and removed")
}

func TestCloseStopsTheJobsAndThenRefusesNewOnes(t *testing.T) {
	r, f, c := newFakeRunner(t)
	job := startJob(t, context.Background(), r, "job1")
	running(f, job, "t1")
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	await(t, f.parked, "the job's service parked")
	stoppedWith(f, job, "t1", 0)
	reaped(t, r, f, c)
	require.NoError(t, await(t, closed, "Close"))
	assert.Equal(t, []string{job.ServiceID()}, f.removedServices(), "Close returns once its jobs are gone")
	_, err := job.Wait(context.Background())
	require.ErrorIs(t, err, ErrRunnerClosed)
	_, err = r.Start(context.Background(), JobSpec{Image: "app:v1"})
	require.ErrorIs(t, err, ErrRunnerClosed)
}

func TestScheduleTimeoutOnTheClock(t *testing.T) {
	r, f, c := newFakeRunner(t)
	st := newStatuses()
	job := startJob(t, context.Background(), r, "job1", WithScheduleTimeout(30*time.Second), st.option())
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStatePending, unassigned, withErr("no suitable node (scheduling constraints not satisfied on 1 node)")))
	st.await(t, StatePending)
	c.Advance(30 * time.Second)
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.ErrorIs(t, w.err, ErrUnschedulable)
	assert.Contains(t, w.err.Error(), "no suitable node")
	assert.Contains(t, w.err.Error(), "still pending after 30s")
}

func TestARetryFollowsTheNewTask(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	st := newStatuses()
	live := newLineWriter()
	job := startJob(t, context.Background(), r, "job1", WithRetries(1, 0), WithStdout(live), st.option())
	running(f, job, "t1")
	st.await(t, StateRunning)
	f.log("t1").write(false, []byte("first try\n"))
	await(t, live.writes, "the first try's output")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateFailed, exited(1)), task("t2", 1, swarm.TaskStateRunning))
	st.await(t, StateRunning)
	f.log("t2").write(false, []byte("second try\n"))
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateFailed, exited(1)), task("t2", 1, swarm.TaskStateComplete, exited(0)))
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err)
	assert.Equal(t, 2, w.res.Attempts)
	assert.Equal(t, "second try\n", string(w.res.Stdout), "the Result is the last attempt's")
	assert.Equal(t, "first try\nsecond try\n", live.String(), "the writer gets them all")

	require.Len(t, w.res.Tasks, 1, "a job of one task has one TaskResult")
	tr := w.res.Tasks[0]
	assert.Equal(t, "t2", tr.TaskID)
	assert.Equal(t, "second try\n", string(tr.Stdout))
	require.Len(t, tr.History, 2, "every attempt, oldest first")
	first, second := tr.History[0], tr.History[1]
	assert.Equal(t, Attempt{TaskID: "t1", NodeID: "n1", ExitCode: 1, State: StateFailed, Stdout: []byte("first try\n"),
		CreatedAt: t0, FinishedAt: t0.Add(time.Second)}, first)
	assert.Equal(t, "t2", second.TaskID)
	assert.Equal(t, 0, second.ExitCode)
	assert.Equal(t, "second try\n", string(second.Stdout))
}

func TestAnAttemptNeverFollowedIsReadForTheHistory(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	job := startJob(t, context.Background(), r, "job1", WithRetries(1, 0))
	f.log("t1").write(true, []byte("failed fast\n"))
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateFailed, exited(1)), task("t2", 1, swarm.TaskStateComplete, exited(0)))
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err)
	require.Len(t, w.res.Tasks[0].History, 2)
	assert.Equal(t, "failed fast\n", string(w.res.Tasks[0].History[0].Stderr), "read whole once the job is over")
}

func TestALostNodeEndsTheJobOnceConfirmed(t *testing.T) {
	r, f, c := newFakeRunner(t)
	polls := f.polls
	job := startRunning(t, r, f, "job1")
	f.setNode(swarm.NodeStateDown)
	polls.await(t, r)
	ch := waitAsync(context.Background(), job)
	c.Advance(nodeLossConfirm)
	w := await(t, ch, "Wait")
	require.ErrorIs(t, w.err, ErrNodeLost)
	assert.Contains(t, w.err.Error(), "node-1 is down")
}

// pollWatch tells a test which polls of a Runner's watcher have ended.
type pollWatch struct {
	last atomic.Uint64
	ch   chan struct{}
}

func watchPolls(r *Runner) *pollWatch {
	p := &pollWatch{ch: make(chan struct{}, 1)}
	r.watch.afterPoll = func() {
		p.last.Store(r.watch.pollsStarted())
		select {
		case p.ch <- struct{}{}:
		default:
		}
	}
	return p
}

// await waits for a poll that started after the call has ended. A
// Runner polls only while a job of it is in flight: the caller makes sure
// one still is (a job that may end on the poll it waits for does not count).
func (p *pollWatch) await(t *testing.T, r *Runner) {
	t.Helper()
	seq := r.watch.pollsStarted()
	r.watch.wakeUp()
	for p.last.Load() <= seq {
		await(t, p.ch, "a poll")
	}
}

func TestAFollowThatSkippedIsAnErrorOnlyWithAWriter(t *testing.T) {
	for _, withWriter := range []bool{false, true} {
		t.Run(fmt.Sprint("writer ", withWriter), func(t *testing.T) {
			r, f, _ := newFakeRunner(t)
			st := newStatuses()
			live := newLineWriter()
			opts := []Option{st.option()}
			if withWriter {
				opts = append(opts, WithStdout(live))
			}
			job := startJob(t, context.Background(), r, "job1", opts...)
			log := f.log("t1")
			log.follow = skipTo(2, 5) // the engine's follow skips a rotated file
			running(f, job, "t1")
			st.await(t, StateRunning)
			var want string
			for i := range 10 {
				line := fmt.Sprintf("line %02d\n", i)
				log.write(false, []byte(line))
				want += line
			}
			if withWriter {
				for !strings.HasSuffix(live.String(), "line 09\n") {
					await(t, live.writes, "the follower's last line")
				}
			}
			f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
			w := await(t, waitAsync(context.Background(), job), "Wait")
			assert.Equal(t, want, string(w.res.Stdout), "the Result is whole")
			if !withWriter {
				require.NoError(t, w.err, "no writer missed anything")
				return
			}
			var outErr *OutputError
			require.ErrorAs(t, w.err, &outErr)
			assert.Equal(t, OutputError{Job: "job1", Stream: "stdout", Problem: OutputLate, Offset: 16, Size: 24}, *outErr)
			assert.Equal(t, want[:16]+want[40:], live.String())
		})
	}
}

func TestACreateThatFailsWhileCancelledSaysBoth(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	f.createGate = make(chan struct{})
	f.createErr = errors.New("raft: no leader")
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := r.Start(ctx, JobSpec{Image: "app:v1", Name: "job1"})
		errs <- err
	}()
	await(t, f.creating, "the create request")
	cancel()
	close(f.createGate)
	err := await(t, errs, "Start")
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "job job1 not started")
	assert.Contains(t, err.Error(), "raft: no leader", "the engine's words too")
}

func TestAStopThatTimesOutKeepsWhatTheFollowerTook(t *testing.T) {
	// The last poll saw the task still preparing (a loaded manager), while
	// its container ran and printed: the Result holds what the follower
	// took, and the error says what could not be checked.
	r, f, c := newFakeRunner(t)
	ctx, cancel := context.WithCancel(context.Background())
	live := newLineWriter()
	job := startJob(t, ctx, r, "job1", WithStopGracePeriod(time.Second), WithStdout(live))
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStatePreparing))
	f.polls.await(t, r)
	f.log("t1").write(false, []byte("printed while the manager lagged\n"))
	awaitLive(t, live, "printed while the manager lagged\n")
	cancel()
	await(t, f.parked, "the job's service parked")
	f.polls.await(t, r)
	f.mu.Lock()
	f.logErr = errors.New("the log is gone with the service")
	f.mu.Unlock()
	c.Advance(time.Second + stopMargin)
	w := await(t, waitAsync(context.Background(), job), "Wait")
	var stopErr *StopError
	require.ErrorAs(t, w.err, &stopErr)
	assert.True(t, stopErr.StillRunning)
	assert.Equal(t, "printed while the manager lagged\n", string(w.res.Stdout), "never a silent loss")
	assert.ErrorIs(t, w.err, ErrOutputIncomplete, "the final read failed: it says so")
}

func TestAStoppedJobHasNoExitCodeOnlyIfNothingSaysItRan(t *testing.T) {
	// A task shut down with exit code 0: a container that never started
	// has it, and so has one that ended on its own as it was stopped. A
	// short job can start, print and end between two polls.
	for _, tc := range []struct {
		name    string
		printed string
		start   bool // the Runner's engine sent the container's start event
		want    int
	}{
		{"never ran", "", false, -1},
		{"printed between two polls", "done\n", false, 0},
		{"started, printed nothing", "", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, f, c := newFakeRunner(t)
			handled := handledEvents(r)
			ctx, cancel := context.WithCancel(context.Background())
			job := startJob(t, ctx, r, "job1")
			f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStatePreparing))
			f.polls.await(t, r)
			if tc.start {
				started := containerEvent(job, "t1", 0)
				started.Action = events.ActionStart
				f.events <- started
				await(t, handled, "the start event")
			}
			f.log("t1").write(false, []byte(tc.printed))
			cancel()
			await(t, f.parked, "the job's service parked")
			stoppedWith(f, job, "t1", 0)
			reaped(t, r, f, c)
			w := await(t, waitAsync(context.Background(), job), "Wait")
			var stopErr *StopError
			require.ErrorAs(t, w.err, &stopErr)
			assert.Equal(t, tc.want, w.res.ExitCode)
			assert.Equal(t, tc.printed, string(w.res.Stdout))
		})
	}
}
