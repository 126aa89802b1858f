package integration

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// The multi-node tests run through a Runner connected to the DinD swarm's
// manager; they share the swarm and are not parallel with each other. A
// test that stops a node restores it when it ends, however it ends.

// dindNodeLossBound is how soon, once a worker's engine is gone (killed, or
// stopped), Wait must report its job as node lost: the manager marks a
// killed node down after a few missed 1 s heartbeats (2.4-3.9 s measured; a
// stopped node says goodbye sooner), and the Runner re-reads the node list
// every 2 s while jobs run.
const dindNodeLossBound = 10 * time.Second

// dindTest returns the shared swarm for a multi-node test. When the test
// ends (after its own clean-ups, which restore any node it stopped) it
// checks that every node is ready and that no job service and no job
// container is left on the swarm, removing the services it finds so that
// one failure does not spill into the next test.
func dindTest(t *testing.T) *dindSwarm {
	t.Helper()
	s := sharedDinD(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, s.waitNodesReady(ctx), "every node ready again")
		list, err := s.manager.api.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", oneshot.LabelManaged+"=true")})
		require.NoError(t, err)
		var names []string
		for _, svc := range list.Items {
			names = append(names, svc.Spec.Name)
			_, _ = s.manager.api.ServiceRemove(ctx, svc.ID, client.ServiceRemoveOptions{})
		}
		assert.Empty(t, names, "job services left on the DinD swarm")
		assert.NoError(t, s.waitNoJobContainers(ctx), "job containers left on the DinD nodes")
	})
	return s
}

func TestDinDSwarmSetUp(t *testing.T) {
	s := dindTest(t)
	nodes, err := s.manager.api.NodeList(context.Background(), client.NodeListOptions{})
	require.NoError(t, err)
	roles := map[swarm.NodeRole]int{}
	for _, n := range nodes.Items {
		roles[n.Spec.Role]++
	}
	assert.Equal(t, map[swarm.NodeRole]int{swarm.NodeRoleManager: 1, swarm.NodeRoleWorker: 2}, roles)
}

func TestDinDJobOnAWorkerFoundByThePoll(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 2*time.Minute)
	localExit := &attrRecorder{key: "local_exit_event"}
	r, err := oneshot.NewRunner(oneshot.WithClient(s.manager.api), oneshot.WithLogger(slog.New(localExit)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	managerSaw := s.manager.containerEvents(t, ctx)

	res, err := r.Run(ctx, oneshot.JobSpec{Image: s.jobImage, Command: []string{"mixed", "6", "--", "exit", "5"}},
		oneshot.WithConstraint("node.role==worker"))
	var exitErr *oneshot.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 5, res.ExitCode)
	assert.Equal(t, "out 1\nout 3\nout 5\n", string(res.Stdout))
	assert.Equal(t, "err 2\nerr 4\nerr 6\n", string(res.Stderr))
	assert.Contains(t, []string{s.workers[0].nodeID, s.workers[1].nodeID}, res.NodeID)
	assert.Empty(t, managerSaw(), "the manager's engine saw no event of the job's container")
	assert.Equal(t, []any{false}, localExit.values(), "no local exit event: the task poll found the end")
}

func TestDinDJobsSpreadOverTheWorkers(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 2*time.Minute)
	const n = 6
	results := make([]*oneshot.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.runner.Run(ctx, oneshot.JobSpec{Image: s.jobImage, Command: []string{"echo", fmt.Sprint("job ", i), "--", "sleep", "1s", "--", "exit", fmt.Sprint(i)}},
				oneshot.WithConstraint("node.role==worker"))
		}()
	}
	wg.Wait()
	nodesUsed := map[string]int{}
	for i := range n {
		if i == 0 {
			require.NoError(t, errs[i])
		} else {
			var exitErr *oneshot.ExitError
			require.ErrorAs(t, errs[i], &exitErr, "job %d", i)
		}
		assert.Equal(t, i, results[i].ExitCode)
		assert.Equal(t, fmt.Sprintf("job %d\n", i), string(results[i].Stdout))
		nodesUsed[results[i].NodeID]++
	}
	assert.Len(t, nodesUsed, 2, "the swarm spread the jobs over both workers: %v", nodesUsed)
	for _, w := range s.workers {
		assert.Contains(t, nodesUsed, w.nodeID)
	}
}

func TestDinDWorkerLostMidJob(t *testing.T) {
	for _, c := range []struct {
		name   string
		worker int
		lose   func(ctx context.Context, s *dindSwarm, n *dindNode) error
	}{
		{"killed", 0, func(ctx context.Context, s *dindSwarm, n *dindNode) error { return n.kill(ctx, s.host) }},
		{"stopped", 1, func(ctx context.Context, _ *dindSwarm, n *dindNode) error { return n.stop(ctx, 10*time.Second) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := dindTest(t)
			ctx := testContext(t, 3*time.Minute)
			worker := s.workers[c.worker]
			t.Cleanup(func() { require.NoError(t, worker.ensureUp(ctx), "bring the worker back") })
			live := newWatchedBuffer("started\n")
			done := s.startRunning(t, ctx, oneshot.JobSpec{Image: s.jobImage, Command: []string{"echo", "started", "--", "sleep", "300s"}},
				oneshot.WithConstraint("node.hostname=="+worker.role), oneshot.WithStdout(live))
			select {
			case <-live.seen:
			case <-ctx.Done():
				t.Fatalf("the job's first line never came: %q", live.String())
			}

			losing := time.Now()
			require.NoError(t, c.lose(ctx, s, worker))
			lost := time.Now()
			t.Logf("worker %s in %s", c.name, lost.Sub(losing).Round(10*time.Millisecond))
			w := <-done
			detected := time.Since(lost)
			t.Logf("node loss reported %s after the node was %s: %v", detected.Round(10*time.Millisecond), c.name, w.err)
			require.ErrorIs(t, w.err, oneshot.ErrNodeLost)
			var taskErr *oneshot.TaskError
			require.ErrorAs(t, w.err, &taskErr)
			assert.Equal(t, worker.nodeID, w.res.NodeID)
			assert.Equal(t, -1, w.res.ExitCode, "no exit code: the outcome is unknown")
			assert.Less(t, detected, dindNodeLossBound, "with a %s heartbeat", dindHeartbeat)
			assert.Equal(t, "started\n", live.String(), "what the job printed before the loss was streamed to the writer")

			// The node comes back; the clean-up of dindTest checks that it
			// removed the lost job's container and that no service is left.
			require.NoError(t, worker.start(ctx))
		})
	}
}

func TestDinDManagerRestartMidJob(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 3*time.Minute)
	t.Cleanup(func() {
		require.NoError(t, s.manager.ensureUp(ctx), "the manager back")
		require.NoError(t, s.setHeartbeat(ctx, dindHeartbeat), "the tests' heartbeat back")
	})
	// With the tests' 1 s heartbeat, a manager that restarts gives its
	// workers 3 s to come back before it marks them down and shuts their
	// tasks down itself, which a loaded CI machine can miss (seen once:
	// the job's task shut down by the swarm). This test is about oneshot
	// waiting through the restart: the engine's default 5 s it is.
	require.NoError(t, s.setHeartbeat(ctx, 5*time.Second))
	live := &liveBuffer{}
	done := s.startRunning(t, ctx, oneshot.JobSpec{Image: s.jobImage, Command: []string{"echo", "before", "--", "sleep", "10s", "--", "echo", "after", "--", "exit", "4"}},
		oneshot.WithConstraint("node.role==worker"), oneshot.WithStdout(live))

	restarted := time.Now()
	require.NoError(t, s.manager.restartEngine(ctx, s.host), "restart the manager's container, killing its engine")
	w := <-done
	t.Logf("Wait returned %s after the manager's restart", time.Since(restarted).Round(10*time.Millisecond))
	var exitErr *oneshot.ExitError
	require.ErrorAs(t, w.err, &exitErr, "the waiter reconnected and still got the job's true result")
	_, alone := w.err.(*oneshot.ExitError)
	assert.True(t, alone, "the job's exit code alone: no output missing, late or repeated: %v", w.err)
	assert.Equal(t, 4, w.res.ExitCode)
	assert.Equal(t, "before\nafter\n", string(w.res.Stdout))
	assert.Empty(t, string(w.res.Stderr))
	assert.Equal(t, "before\nafter\n", live.String(), "the live writer got every byte once, across the restart")
}

func TestDinDPrivateRegistryNeedsCredentials(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 2*time.Minute)
	_, err := s.runner.Run(ctx, oneshot.JobSpec{Image: s.authJobImage, Command: []string{"echo", "private"}},
		oneshot.WithConstraint("node.role==worker"), oneshot.WithScheduleTimeout(time.Minute))
	t.Logf("without credentials: %v", err)
	var taskErr *oneshot.TaskError
	require.ErrorAs(t, err, &taskErr)
	assert.Equal(t, oneshot.StateRejected, taskErr.State)
	require.ErrorIs(t, err, oneshot.ErrImageNotFound)

	res, err := s.runner.Run(ctx, oneshot.JobSpec{Image: s.authJobImage, Command: []string{"echo", "private"}},
		oneshot.WithConstraint("node.role==worker"),
		oneshot.WithRegistryAuth(oneshot.RegistryAuth{Username: dindRegistryUser, Password: dindRegistryPassword, ServerAddress: s.authRegistry.nodeAddr()}))
	require.NoError(t, err)
	assert.Equal(t, "private\n", string(res.Stdout))
}

func TestDinDOverlayNetworkAcrossNodes(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 2*time.Minute)
	server, client1 := s.workers[0], s.workers[1]
	name := "web-" + randomSuffix()
	net, err := s.manager.api.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "overlay", Attachable: true})
	require.NoError(t, err)
	t.Cleanup(func() { s.removeNetworkEventually(t, net.ID) })
	// A long-running web server on one worker, reached by DNS round robin
	// (a VIP needs IP_VS, which this kernel lacks).
	one := uint64(1)
	svc, err := s.manager.api.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name},
		Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: s.jobImage, Args: []string{"serve", ":8080", "/"}},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: net.ID}},
			Placement:     &swarm.Placement{Constraints: []string{"node.hostname==" + server.role}},
		},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = s.manager.api.ServiceRemove(context.Background(), svc.ID, client.ServiceRemoveOptions{})
	})
	require.NoError(t, server.waitServiceContainer(ctx, svc.ID), "the web server runs on %s", server.role)

	// The job's first attempt may come before the server's name reached the
	// other node's DNS (gossip): retries cover that.
	res, err := s.runner.Run(ctx, oneshot.JobSpec{Image: s.jobImage, Command: []string{"fetch", "http://tasks." + name + ":8080/jobkit"}},
		oneshot.WithNetwork(name), oneshot.WithConstraint("node.hostname=="+client1.role),
		oneshot.WithOutputLimit(16), oneshot.WithRetries(10, 500*time.Millisecond))
	require.NoError(t, err, "a job on %s reaches the server on %s through the overlay", client1.role, server.role)
	t.Logf("fetched in %d attempt(s)", res.Attempts)
	assert.Equal(t, client1.nodeID, res.NodeID)
	assert.Positive(t, res.StdoutDropped, "the job printed the server's jobkit binary")
}

func TestDinDPrune(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 2*time.Minute)
	var kept []string
	for range 2 {
		res, err := s.runner.Run(ctx, oneshot.JobSpec{Image: s.jobImage, Command: []string{"exit", "0"}},
			oneshot.WithConstraint("node.role==worker"), oneshot.WithKeep())
		require.NoError(t, err)
		kept = append(kept, res.ServiceID)
	}
	// A job still running on a worker, waited for by this Runner: another
	// Runner (another process, as it were) must see from the task list that
	// it is not finished.
	running, cancelRunning := context.WithCancel(ctx)
	defer cancelRunning()
	done := s.startRunning(t, running, oneshot.JobSpec{Image: s.jobImage, Command: []string{"sleep", "60s"}},
		oneshot.WithConstraint("node.role==worker"))
	other, err := oneshot.NewRunner(oneshot.WithClient(s.manager.api))
	require.NoError(t, err)
	defer other.Close()

	young, err := other.Prune(ctx, oneshot.PruneOlderThan(time.Hour))
	require.NoError(t, err)
	assert.Empty(t, young, "nothing is an hour old")
	pruned, err := other.Prune(ctx)
	require.NoError(t, err)
	var ids []string
	for _, p := range pruned {
		ids = append(ids, p.ID)
		assert.Equal(t, oneshot.StateComplete, p.State)
	}
	assert.ElementsMatch(t, kept, ids, "the finished kept jobs, not the running one")

	cancelRunning()
	w := <-done
	require.ErrorIs(t, w.err, context.Canceled)
}

// dindWaited is what Wait returned.
type dindWaited struct {
	res *oneshot.Result
	err error
}

// startRunning starts a job on the DinD swarm with the shared Runner, waits
// for it in the background, and returns once its task runs (failing the
// test if the job ends before).
func (s *dindSwarm) startRunning(t *testing.T, ctx context.Context, spec oneshot.JobSpec, opts ...oneshot.Option) <-chan dindWaited {
	t.Helper()
	running := make(chan struct{}, 1)
	opts = append(opts, oneshot.WithStatusFunc(func(st oneshot.TaskStatus) {
		if st.State == oneshot.StateRunning {
			select {
			case running <- struct{}{}:
			default:
			}
		}
	}))
	job, err := s.runner.Start(ctx, spec, opts...)
	require.NoError(t, err)
	done := make(chan dindWaited, 1)
	go func() {
		res, err := job.Wait(ctx)
		done <- dindWaited{res, err}
	}()
	select {
	case <-running:
		return done
	case w := <-done:
		t.Fatalf("the job ended before it ran: %v", w.err)
	}
	return nil
}

// containerEvents records the events of job containers on the node's
// engine from now on; the function returned stops and returns them.
func (n *dindNode) containerEvents(t *testing.T, ctx context.Context) func() []events.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	stream := n.api.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).Add("type", "container").Add("label", oneshot.LabelManaged+"=true")})
	var seen []events.Message
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case m := <-stream.Messages:
				seen = append(seen, m)
			case <-stream.Err:
				return
			}
		}
	}()
	return func() []events.Message {
		cancel()
		<-finished
		return seen
	}
}

// waitServiceContainer returns once a container of the service runs on
// the node, woken by the node's container events.
func (n *dindNode) waitServiceContainer(ctx context.Context, serviceID string) error {
	ofService := make(client.Filters).Add("label", "com.docker.swarm.service.id="+serviceID)
	return waitUntil(ctx, n.api, ofService.Clone().Add("type", "container"), func(ctx context.Context) (bool, error) {
		list, err := n.api.ContainerList(ctx, client.ContainerListOptions{Filters: ofService.Clone().Add("status", "running")})
		if err != nil {
			return false, err
		}
		return len(list.Items) > 0, fmt.Errorf("no running container of service %s on %s", serviceID, n.role)
	})
}

// removeNetworkEventually removes a swarm network of the DinD swarm, which
// the swarm frees a moment after the last task on it is gone (no event
// tells when: this polls).
func (s *dindSwarm) removeNetworkEventually(t *testing.T, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := s.manager.api.NetworkRemove(context.Background(), id, client.NetworkRemoveOptions{})
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "remove network %s", id)
}

// watchedBuffer is an io.Writer that keeps what it is given and closes
// seen once that starts with want.
type watchedBuffer struct {
	want string
	seen chan struct{}
	mu   sync.Mutex
	buf  []byte
}

func newWatchedBuffer(want string) *watchedBuffer {
	return &watchedBuffer{want: want, seen: make(chan struct{})}
}

func (b *watchedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	had := strings.HasPrefix(string(b.buf), b.want)
	b.buf = append(b.buf, p...)
	if !had && strings.HasPrefix(string(b.buf), b.want) {
		close(b.seen)
	}
	return len(p), nil
}

func (b *watchedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// attrRecorder is a slog.Handler that keeps the value of one attribute of
// every record that has it, to check what a Runner logged (attributes
// added through WithAttrs are not seen).
type attrRecorder struct {
	key  string
	mu   sync.Mutex
	seen []any
}

func (h *attrRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *attrRecorder) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == h.key {
			h.mu.Lock()
			h.seen = append(h.seen, a.Value.Any())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *attrRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *attrRecorder) WithGroup(string) slog.Handler      { return h }

// values returns the values seen so far.
func (h *attrRecorder) values() []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]any(nil), h.seen...)
}

// TestDinDOutputOnAWorker runs jobs whose output comes from a worker's log
// through the manager: one 40,000-byte line (cut into three 16 KiB entries
// of one time), 3 s of quiet, then a short line; and 8 MiB of lines of 1
// byte to 1 MiB on both streams. The Result and the live writers get each
// stream byte for byte.
func TestDinDOutputOnAWorker(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 3*time.Minute)
	linesOut, linesErr := linesStreams(8, 51)
	for _, c := range []struct {
		name           string
		command        []string
		stdout, stderr []byte
	}{
		{"one long line then quiet", []string{"line", "40000", "--", "sleep", "3s", "--", "echo", "end"}, []byte(longLine(40000) + "end\n"), nil},
		{"lines on both streams", []string{"lines", "8", "51"}, linesOut, linesErr},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr := &liveBuffer{}, &liveBuffer{}
			start := time.Now()
			res, err := s.runner.Run(ctx, oneshot.JobSpec{Image: s.jobImage, Command: c.command},
				oneshot.WithConstraint("node.role==worker"), oneshot.WithStdout(stdout), oneshot.WithStderr(stderr))
			require.NoError(t, err)
			assert.Contains(t, []string{s.workers[0].nodeID, s.workers[1].nodeID}, res.NodeID, "the job ran on a worker")
			requireSameBytes(t, c.stdout, res.Stdout, "stdout")
			requireSameBytes(t, c.stderr, res.Stderr, "stderr")
			requireSameBytes(t, c.stdout, stdout.Bytes(), "live stdout")
			requireSameBytes(t, c.stderr, stderr.Bytes(), "live stderr")
			t.Logf("%d+%d bytes in %s", len(c.stdout), len(c.stderr), time.Since(start).Round(10*time.Millisecond))
		})
	}
}

// TestDinDTimeoutOnAWorker times a job out on a worker while it runs: its
// SIGTERM handler prints and runs 3 s more. Run returns once the job's
// container on the worker has exited, with what the handler printed,
// read from the worker through the manager.
func TestDinDTimeoutOnAWorker(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 3*time.Minute)
	// The workers pull the image before the clock starts: the timeout is
	// for the job, not for a first pull.
	for _, w := range s.workers {
		pull, err := w.api.ImagePull(ctx, s.jobImage, client.ImagePullOptions{})
		require.NoError(t, err)
		require.NoError(t, pull.Wait(ctx), "pull %s on %s", s.jobImage, w.role)
	}
	const timeout, grace = 5 * time.Second, 8 * time.Second
	start := time.Now()
	res, err := s.runner.Run(ctx, oneshot.JobSpec{Image: s.jobImage, Command: termJob("3s")},
		oneshot.WithConstraint("node.role==worker"), oneshot.WithTimeout(timeout), oneshot.WithStopGracePeriod(grace))
	took := time.Since(start)
	require.NotNil(t, res, "%v", err)
	var worker *dindNode
	for _, w := range s.workers {
		if w.nodeID == res.NodeID {
			worker = w
		}
	}
	require.NotNil(t, worker, "the job ran on a worker, not on %s", res.NodeID)
	running, listErr := runningContainers(context.Background(), worker.api, res.ServiceID)
	require.NoError(t, listErr)
	assert.Empty(t, running, "no container of the job runs on %s when Run returns", worker.role)

	requireStopError(t, err, res, context.DeadlineExceeded, "its timeout of 5s")
	require.False(t, res.StartedAt.IsZero(), "the job ran before its timeout")
	assert.Equal(t, 143, res.ExitCode)
	assert.Equal(t, termJobStdout("3s"), string(res.Stdout), "what the job printed after SIGTERM came back from the worker")
	assert.Empty(t, string(res.Stderr))
	assert.GreaterOrEqual(t, took, timeout+3*time.Second, "the timeout, then the SIGTERM handler's 3 s")
	assert.Less(t, took, timeout+grace+30*time.Second, "a bound on the wait, not on speed")
	t.Logf("Run returned %s after the timeout; the task started %s after it was created, on %s",
		(took - timeout).Round(10*time.Millisecond), res.StartedAt.Sub(res.CreatedAt).Round(10*time.Millisecond), worker.role)
}
