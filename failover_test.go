package oneshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WithHosts' failover, on fake managers of one fake swarm: each manager
// can refuse every call, answer that it is no manager, or hang; the swarm
// behind them is one fakeEngine. Nothing sleeps: a hang ends when the
// test moves the fake clock past hostTimeout.

// hostFake is one manager of a fake swarm.
type hostFake struct {
	*fakeEngine // the swarm, shared with the other managers
	name        string
	// hanging receives the name of a call that hangs.
	hanging chan string

	mu      sync.Mutex
	fail    error // every call fails with it
	hang    bool  // every call waits until its context is done
	calls   map[string]int
	streams []context.CancelFunc // the streams opened on it
}

func newHostFake(f *fakeEngine, name string) *hostFake {
	return &hostFake{fakeEngine: f, name: name, hanging: make(chan string, 64), calls: map[string]int{}}
}

// Failures of a manager, as Docker 20.10 gives them.
var (
	errManagerRefused  = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	errManagerDemoted  = cerrdefs.ErrUnavailable.WithMessage("This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state.")
	errManagerNoLeader = cerrdefs.ErrInternal.WithMessage("rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online.")
)

// lose makes the manager fail every call with err from now on, breaking
// the streams opened on it (the connections to a dead engine break).
func (h *hostFake) lose(err error) {
	h.mu.Lock()
	h.fail = err
	streams := h.streams
	h.streams = nil
	h.mu.Unlock()
	for _, cancel := range streams {
		cancel()
	}
}

// freeze makes the manager hang: calls get no answer, streams no more.
func (h *hostFake) freeze() {
	h.mu.Lock()
	h.hang = true
	h.mu.Unlock()
}

func (h *hostFake) count(call string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[call]
}

// gate is what the manager does with a call before the swarm sees it.
func (h *hostFake) gate(ctx context.Context, call string) error {
	h.mu.Lock()
	h.calls[call]++
	fail, hang := h.fail, h.hang
	h.mu.Unlock()
	if hang {
		h.hanging <- call
		<-ctx.Done()
		return ctx.Err()
	}
	return fail
}

// stream registers a stream opened on the manager, to break it.
func (h *hostFake) stream(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	h.mu.Lock()
	h.streams = append(h.streams, cancel)
	h.mu.Unlock()
	return ctx
}

func (h *hostFake) TaskList(ctx context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	if err := h.gate(ctx, "TaskList"); err != nil {
		return client.TaskListResult{}, err
	}
	return h.fakeEngine.TaskList(ctx, o)
}

func (h *hostFake) NodeList(ctx context.Context, o client.NodeListOptions) (client.NodeListResult, error) {
	if err := h.gate(ctx, "NodeList"); err != nil {
		return client.NodeListResult{}, err
	}
	return h.fakeEngine.NodeList(ctx, o)
}

func (h *hostFake) ServiceInspect(ctx context.Context, id string, o client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	if err := h.gate(ctx, "ServiceInspect"); err != nil {
		return client.ServiceInspectResult{}, err
	}
	return h.fakeEngine.ServiceInspect(ctx, id, o)
}

func (h *hostFake) ServiceCreate(ctx context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	if err := h.gate(ctx, "ServiceCreate"); err != nil {
		return client.ServiceCreateResult{}, err
	}
	return h.fakeEngine.ServiceCreate(ctx, o)
}

func (h *hostFake) ServiceUpdate(ctx context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	if err := h.gate(ctx, "ServiceUpdate"); err != nil {
		return client.ServiceUpdateResult{}, err
	}
	return h.fakeEngine.ServiceUpdate(ctx, id, o)
}

func (h *hostFake) ServiceRemove(ctx context.Context, id string, o client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	if err := h.gate(ctx, "ServiceRemove"); err != nil {
		return client.ServiceRemoveResult{}, err
	}
	return h.fakeEngine.ServiceRemove(ctx, id, o)
}

// TaskLogs serves the swarm's log; a follow breaks when the manager is
// lost, and stalls when it hangs.
func (h *hostFake) TaskLogs(ctx context.Context, id string, o client.TaskLogsOptions) (client.TaskLogsResult, error) {
	if err := h.gate(ctx, "TaskLogs"); err != nil {
		return nil, err
	}
	ctx = h.stream(ctx)
	rc, err := h.fakeEngine.TaskLogs(ctx, id, o)
	if err != nil {
		return nil, err
	}
	return stallingReader{rc, h, ctx}, nil
}

// stallingReader stops passing on what it reads once its manager hangs.
type stallingReader struct {
	io.ReadCloser
	h   *hostFake
	ctx context.Context
}

func (r stallingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.h.mu.Lock()
	hang := r.h.hang
	r.h.mu.Unlock()
	if hang {
		<-r.ctx.Done()
		return 0, r.ctx.Err()
	}
	return n, err
}

func (h *hostFake) Events(ctx context.Context, o client.EventsListOptions) client.EventsResult {
	if err := h.gate(ctx, "Events"); err != nil {
		errs := make(chan error, 1)
		errs <- err
		return client.EventsResult{Err: errs}
	}
	return h.fakeEngine.Events(h.stream(ctx), o)
}

// newFakeFailover returns a failover over n fake managers of one fake
// swarm, on a fake clock.
func newFakeFailover(n int) (*failover, []*hostFake, *fakeEngine, *fakeClock) {
	f, c := newFakeEngine(), newFakeClock()
	hosts := make([]*hostFake, n)
	names := make([]string, n)
	engines := make([]engine, n)
	for i := range hosts {
		names[i] = fmt.Sprintf("tcp://m%d:2375", i+1)
		hosts[i] = newHostFake(f, names[i])
		engines[i] = hosts[i]
	}
	return newFailover(names, engines, c, func() *slog.Logger { return quietLogger }), hosts, f, c
}

// managerInUse is the name of the manager the failover uses.
func (f *failover) managerInUse() string {
	i, _ := f.use()
	return f.hosts[i]
}

func TestFailoverMovesOnOnlyWhenTheManagerCannotServe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  error
		hang  bool
		moves bool
	}{
		{"refused", errManagerRefused, false, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), false, true},
		{"answer cut short", io.ErrUnexpectedEOF, false, true},
		{"demoted: not a manager (503)", errManagerDemoted, false, true},
		{"no leader (500)", errManagerNoLeader, false, true},
		{"hangs", nil, true, true},
		{"not found", cerrdefs.ErrNotFound, false, false},
		{"name taken", cerrdefs.ErrConflict, false, false},
		{"unavailable for another reason", cerrdefs.ErrUnavailable.WithMessage("image pull failed"), false, false},
		{"internal for another reason", cerrdefs.ErrInternal.WithMessage("disk full"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fo, hosts, _, c := newFakeFailover(3)
			hosts[0].fail = tc.fail
			if tc.hang {
				hosts[0].freeze()
				go func() {
					await(t, hosts[0].hanging, "the call hanging")
					c.Advance(hostTimeout)
				}()
			}
			_, err := fo.NodeList(context.Background(), client.NodeListOptions{})
			if !tc.moves {
				require.ErrorIs(t, err, tc.fail, "the manager's own answer")
				assert.Equal(t, "tcp://m1:2375", fo.managerInUse())
				assert.Zero(t, hosts[1].count("NodeList"), "not made again elsewhere")
				return
			}
			require.NoError(t, err, "made again on the next manager")
			assert.Equal(t, "tcp://m2:2375", fo.managerInUse())
			assert.Equal(t, 1, hosts[1].count("NodeList"))
			_, err = fo.NodeList(context.Background(), client.NodeListOptions{})
			require.NoError(t, err)
			assert.Equal(t, 1, hosts[0].count("NodeList"), "the next calls go to the new manager")
		})
	}
}

func TestFailoverTriesEachManagerOnceThenSaysWhatEachSaid(t *testing.T) {
	fo, hosts, _, _ := newFakeFailover(3)
	hosts[0].fail, hosts[1].fail, hosts[2].fail = errManagerRefused, errManagerDemoted, errManagerNoLeader
	_, err := fo.TaskList(context.Background(), client.TaskListOptions{})
	require.Error(t, err)
	for i, h := range hosts {
		assert.Equal(t, 1, h.count("TaskList"), "manager %d tried once", i+1)
		assert.Contains(t, err.Error(), "manager "+h.name)
	}
	assert.Contains(t, err.Error(), "every swarm manager failed (3 tried)")
	assert.ErrorIs(t, err, errManagerRefused)
	assert.True(t, cerrdefs.IsUnavailable(err), "the engine's errors are kept: %v", err)
	assert.Equal(t, "tcp://m1:2375", fo.managerInUse(), "round and round")
}

func TestFailoverDoesNotMoveForTheCallersContext(t *testing.T) {
	fo, hosts, _, _ := newFakeFailover(2)
	hosts[0].freeze()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		await(t, hosts[0].hanging, "the call hanging")
		cancel()
	}()
	_, err := fo.TaskList(ctx, client.TaskListOptions{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, hosts[1].count("TaskList"), "the caller gave up: no other manager is asked")
	assert.Equal(t, "tcp://m1:2375", fo.managerInUse())

	hosts[0].mu.Lock()
	hosts[0].hang = false
	hosts[0].mu.Unlock()
	ctx, cancel = context.WithCancel(context.Background())
	events := fo.Events(ctx, client.EventsListOptions{})
	cancel() // the Runner's event loop stops: no job in flight
	require.ErrorIs(t, await(t, events.Err, "the event stream's end"), context.Canceled)
	assert.Equal(t, "tcp://m1:2375", fo.managerInUse(), "a stream the caller ended moves nothing")
}

// jobServiceCreate is a job service's spec, with its creation label.
func jobServiceCreate(name, created string) client.ServiceCreateOptions {
	return client.ServiceCreateOptions{Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name,
		Labels: map[string]string{LabelManaged: "true", LabelCreated: created}}}}
}

func TestFailoverNeverCreatesAServiceTwice(t *testing.T) {
	for _, tc := range []struct {
		name string
		// first is how the first manager fails the create; madeAnyway says
		// the swarm made the service all the same (the answer was lost).
		first      error
		madeAnyway bool
		// other is a service of the same name, made by someone else.
		other   bool
		wantErr bool
	}{
		{"refused: made on the next", errManagerRefused, false, false, false},
		{"answer lost: found by its name and creation label", io.ErrUnexpectedEOF, true, false, false},
		{"answer lost, never made: made on the next", io.ErrUnexpectedEOF, false, false, false},
		{"not a manager, the name another's", errManagerDemoted, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fo, hosts, f, _ := newFakeFailover(3)
			o := jobServiceCreate("job1", "2026-12-01T21:00:00.1Z")
			if tc.other {
				_, err := f.ServiceCreate(context.Background(), jobServiceCreate("job1", "2026-12-01T20:00:00Z"))
				require.NoError(t, err)
				<-f.creating
			}
			hosts[0].fail = tc.first
			if tc.madeAnyway {
				_, err := f.ServiceCreate(context.Background(), o) // what the lost request did
				require.NoError(t, err)
				<-f.creating
			}
			res, err := fo.ServiceCreate(context.Background(), o)
			list, listErr := f.ServiceList(context.Background(), client.ServiceListOptions{})
			require.NoError(t, listErr)
			assert.Len(t, list.Items, 1, "one service of that name, ever")
			if tc.wantErr {
				require.True(t, isNameTaken(err), "another's service is not taken for ours: %v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "svc-job1", res.ID)
			assert.Equal(t, o.Spec.Labels, list.Items[0].Spec.Labels)
		})
	}
}

func TestAFollowedLogAndTheEventStreamEndWhenTheFailoverMoves(t *testing.T) {
	fo, hosts, f, _ := newFakeFailover(2)
	ctx := context.Background()
	f.log("t1").write(false, []byte("one\n"))
	follow, err := fo.TaskLogs(ctx, "t1", client.TaskLogsOptions{Follow: true})
	require.NoError(t, err)
	defer follow.Close()
	final, err := fo.TaskLogs(ctx, "t1", client.TaskLogsOptions{})
	require.NoError(t, err)
	defer final.Close()
	events := fo.Events(ctx, client.EventsListOptions{})
	await(t, f.opened, "the event stream on m1")

	// m1 is demoted: its calls fail, the streams it serves go on.
	hosts[0].mu.Lock()
	hosts[0].fail = errManagerDemoted
	hosts[0].mu.Unlock()
	_, err = fo.TaskList(ctx, client.TaskListOptions{})
	require.NoError(t, err, "made again on m2")

	_, err = io.ReadAll(follow)
	assert.ErrorIs(t, err, context.Canceled, "the follow on m1 ended: its reader opens it again")
	assert.ErrorIs(t, await(t, events.Err, "the event stream's end"), errHostLeft)
	got, err := io.ReadAll(final)
	require.NoError(t, err, "a read without follow is not cut: it ends by itself")
	assert.Equal(t, "one\n", string(got[len(got)-4:]))

	again, err := fo.TaskLogs(ctx, "t1", client.TaskLogsOptions{Follow: true})
	require.NoError(t, err)
	require.NoError(t, again.Close())
	assert.Equal(t, 1, hosts[1].count("TaskLogs"), "opened again, on m2")
	assert.Equal(t, 2, hosts[0].count("TaskLogs"))
}

func TestWithHostsChecksItsHosts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []RunnerOption
		want  string
		valid bool
	}{
		{"none", []RunnerOption{WithHosts()}, `WithHosts(): no host; give the swarm's managers`, false},
		{"twice the same", []RunnerOption{WithHosts("tcp://a:2375", "tcp://a:2375")}, `"tcp://a:2375" is given twice`, false},
		{"malformed", []RunnerOption{WithHosts("tcp://a:2375", "tcp://b:port")}, "WithHosts: ", false},
		{"unknown scheme", []RunnerOption{WithHosts("tcp://a:2375", "ftp://b")}, "WithHosts: ", false},
		{"with WithClient", []RunnerOption{WithClient(&client.Client{}), WithHosts("tcp://a:2375")}, "already chosen", false},
		{"three managers", []RunnerOption{WithHosts("tcp://a:2375", "b:2375", "unix:///var/run/docker.sock")}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRunner(tc.opts...)
			if !tc.valid {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				assert.True(t, strings.HasPrefix(err.Error(), "oneshot: "), err.Error())
				return
			}
			require.NoError(t, err)
			fo, ok := r.api.(*failover)
			require.True(t, ok)
			assert.Len(t, fo.closers, 3, "a client per manager, which the Runner closes")
			assert.Same(t, fo, r.closer)
			require.NoError(t, r.Close())
		})
	}
}

func TestAFailedRunnerOptionClosesTheClientsWithHostsMade(t *testing.T) {
	var fo *failover
	grab := func(r *Runner) error {
		fo = r.api.(*failover)
		fo.closers = []io.Closer{hostsCloser(func() error { fo.closers = nil; return nil })}
		return errors.New("a later option fails")
	}
	_, err := NewRunner(WithHosts("tcp://a:2375"), grab)
	require.Error(t, err)
	assert.Nil(t, fo.closers, "closed")
}

type hostsCloser func() error

func (f hostsCloser) Close() error { return f() }

// newFailoverRunner returns a Runner WithHosts over n fake managers of one
// fake swarm, as newFakeRunner makes one on the swarm itself.
func newFailoverRunner(t *testing.T, n int) (*Runner, []*hostFake, *fakeEngine, *fakeClock) {
	t.Helper()
	fo, hosts, f, c := newFakeFailover(n)
	r := &Runner{api: fo, log: quietLogger, clock: c, inFlight: map[*Job]bool{}}
	r.watch = newWatcher(fo, r.log, c)
	f.changed = r.watch.wakeUp
	f.polls = watchPolls(r)
	f.nodeChanged = func() {
		r.watch.markNodesStale()
		r.watch.wakeUp()
	}
	t.Cleanup(func() { closeOnTheClock(t, r, c) })
	return r, hosts, f, c
}

// awaitLive waits until w holds want.
func awaitLive(t *testing.T, w *lineWriter, want string) {
	t.Helper()
	for w.String() != want {
		await(t, w.writes, fmt.Sprintf("live output of %d bytes (have %d)", len(want), len(w.String())))
	}
}

func TestAJobKeepsWaitingThroughAFailover(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose func(t *testing.T, m1 *hostFake, c *fakeClock)
	}{
		{"the manager dies", func(_ *testing.T, m1 *hostFake, _ *fakeClock) { m1.lose(errManagerRefused) }},
		{"the manager is demoted", func(_ *testing.T, m1 *hostFake, _ *fakeClock) { m1.lose(errManagerDemoted) }},
		{"the manager hangs", func(t *testing.T, m1 *hostFake, c *fakeClock) {
			m1.freeze()
			go func() {
				for range m1.hanging {
					c.Advance(hostTimeout) // only a call cut after hostTimeout tells
				}
			}()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, hosts, f, c := newFailoverRunner(t, 3)
			st := newStatuses()
			stdout, stderr := newLineWriter(), newLineWriter()
			job := startJob(t, context.Background(), r, "job1", WithStdout(stdout), WithStderr(stderr), st.option())
			running(f, job, "t1")
			st.await(t, StateRunning)
			log := f.log("t1")
			log.write(false, []byte("before 1\n"))
			log.write(true, []byte("error before\n"))
			long := strings.Repeat("0123456789", 4000) + "\n" // 3 entries of one time
			log.write(false, []byte(long))
			wantOut := "before 1\n" + long
			awaitLive(t, stdout, wantOut)
			awaitLive(t, stderr, "error before\n")

			tc.lose(t, hosts[0], c)
			log.write(false, []byte("after 1\n"))
			log.write(true, []byte("error after\n"))
			f.wake() // the next poll meets the loss
			wantOut += "after 1\n"
			awaitLive(t, stdout, wantOut) // streamed live again, from m2
			awaitLive(t, stderr, "error before\nerror after\n")
			log.write(false, []byte("after 2\n"))
			wantOut += "after 2\n"
			awaitLive(t, stdout, wantOut)
			f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateFailed, exited(3)))

			w := await(t, waitAsync(context.Background(), job), "Wait")
			var exitErr *ExitError
			require.ErrorAs(t, w.err, &exitErr, "the job's own outcome, nothing about its output")
			var outErr *OutputError
			assert.False(t, errors.As(w.err, &outErr), "%v", w.err)
			assert.Equal(t, 3, w.res.ExitCode)
			assert.Equal(t, wantOut, string(w.res.Stdout))
			assert.Equal(t, "error before\nerror after\n", string(w.res.Stderr))
			assert.Equal(t, wantOut, stdout.String(), "every byte once on the live writer")
			assert.Equal(t, "error before\nerror after\n", stderr.String())
			assert.Equal(t, []string{job.ServiceID()}, f.removedServices(), "removed, through m2")
			assert.Positive(t, hosts[1].count("TaskLogs"), "followed again on m2")
			assert.Positive(t, hosts[1].count("ServiceRemove"))
			assert.Zero(t, hosts[2].count("TaskList"), "m3 never needed")
		})
	}
}

// refollowLog is a job's log for TestARefollowNeitherLosesNorRepeatsBytes:
// logged says how many entries were logged when the follow broke.
type refollowLog struct {
	name   string
	log    *engineLog
	logged int
	// late says the writers get some of the log only from the final read
	// (the follower cannot tell a long line's identical pieces from a
	// replay, and holds the stream).
	late bool
}

func refollowLogs() []refollowLog {
	lines := newEngineLog(time.Microsecond)
	for i := range 40 {
		lines.write(i%3 == 0, fmt.Appendf(nil, "line %02d\n", i))
	}
	sameTime := newEngineLog(0) // lines logged in one tick share a time
	for i := range 40 {
		if i%4 == 0 {
			sameTime.advance(time.Microsecond)
		}
		sameTime.write(i%2 == 0, fmt.Appendf(nil, "tick line %02d\n", i))
	}
	long := newEngineLog(time.Microsecond) // lines cut into entries of one time
	for i := range 6 {
		long.write(false, append(randomBytes(20000+i*7000, uint64(i)), '\n'))
		long.write(true, fmt.Appendf(nil, "err %d\n", i))
	}
	repeated := newEngineLog(time.Microsecond) // the follower cannot tell its pieces from a replay
	repeated.write(false, []byte("start\n"))
	repeated.write(false, append(bytes.Repeat([]byte("a"), 40000), '\n'))
	repeated.write(false, []byte("end\n"))
	return []refollowLog{
		{"lines on both streams", lines, 25, false},
		{"lines sharing a time", sameTime, 22, false},
		{"long lines", long, 7, false},
		{"a long line of one byte", repeated, 3, true},
	}
}

// TestARefollowNeitherLosesNorRepeatsBytes breaks the follower's read at
// places between entries and inside them, once or twice, follows again
// from the log's start as logs.go does, then makes the final read: the
// writers and the Result get each stream whole, each byte once, and
// nothing is reported missing; the writers get the rest from the follow
// itself, not later.
func TestARefollowNeitherLosesNorRepeatsBytes(t *testing.T) {
	for _, tc := range refollowLogs() {
		wantOut, wantErr := tc.log.streams()
		before := tc.log.followed(tc.logged)
		all := tc.log.followed(len(tc.log.entries))
		step := max(1, len(before)/41)
		for cut := 0; cut <= len(before); cut += step {
			for _, breaks := range []int{1, 2} {
				var liveOut, liveErr bytes.Buffer
				out := newTaskOutput("t1", newSink("stdout", &liveWriter{w: &liveOut}, 64<<20), newSink("stderr", &liveWriter{w: &liveErr}, 64<<20))
				writeInPieces(out, before[:cut], 7)
				for b := 1; b < breaks; b++ { // broken again, inside the replay
					out.refollow()
					writeInPieces(out, all[:min(len(all), cut/2+3)], 5)
				}
				out.refollow()
				writeInPieces(out, all, 997)
				what := fmt.Sprintf("%s, broken at byte %d of %d, %d time(s)", tc.name, cut, len(before), breaks)
				if !tc.late {
					require.True(t, bytes.Equal(wantOut, liveOut.Bytes()) && bytes.Equal(wantErr, liveErr.Bytes()),
						"%s: the follow after the break streamed the rest at once", what)
				}
				read := out.finalRead()
				writeInPieces(read, tc.log.final(), 1013)
				require.NoError(t, read.split.err)
				read.finish()
				require.Empty(t, out.gaps(), what)
				require.True(t, bytes.Equal(wantOut, liveOut.Bytes()), "%s: live stdout %d bytes, want %d", what, liveOut.Len(), len(wantOut))
				require.True(t, bytes.Equal(wantErr, liveErr.Bytes()), "%s: live stderr %d bytes, want %d", what, liveErr.Len(), len(wantErr))
				require.True(t, bytes.Equal(wantOut, out.stdout.sink.buf), "%s: Result stdout", what)
				require.True(t, bytes.Equal(wantErr, out.stderr.sink.buf), "%s: Result stderr", what)
			}
		}
	}
}
