package integration

import (
	"context"
	"fmt"
	"io"
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

// The fault tests on the 3-node DinD swarm: a worker paused (docker pause
// of its node: its engine, its agent and the job all frozen, its TCP
// connections open), and the event stream cut between a Runner and the
// manager, for jobs on a worker (no event of theirs reaches the manager
// anyway) and on the manager (whose die events normally end them).

// Bounds on the paused worker, from the swarm's settings and the library's
// constants:
const (
	// dindBriefPause is how long a worker is paused in the brief case:
	// the manager marks a node down once it missed its heartbeats for 3
	// heartbeat periods, each chosen in dindHeartbeat ± 0.5 s (swarmkit's
	// dispatcher), so never sooner than 1 s after the node froze.
	dindBriefPause = 500 * time.Millisecond
	// dindPausedLossBound is how soon, once a worker is paused for good,
	// Wait must report its job lost: dindNodeLossBound, as for a killed
	// worker, and logReadTimeoutShort (10 s, logs.go): the final read of
	// the job's log goes to the frozen node, which never answers it.
	dindPausedLossBound = dindNodeLossBound + 10*time.Second
)

// nodeGate is a gate on a DinD node: a directory of the node's own file
// system, bind-mounted into a job that runs there.
type nodeGate struct {
	node *dindNode
	dir  string
}

// newNodeGate makes a gate on node n (it goes with the node's container).
func newNodeGate(t *testing.T, ctx context.Context, n *dindNode) nodeGate {
	t.Helper()
	g := nodeGate{node: n, dir: "/tmp/oneshot-gate-" + randomSuffix()}
	require.NoError(t, n.exec(ctx, "mkdir", "-p", g.dir))
	return g
}

func (g nodeGate) mount() oneshot.Option { return oneshot.WithBind(g.dir, "/gate") }

func (g nodeGate) open(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, g.node.exec(ctx, "touch", g.dir+"/open"), "open the gate on %s", g.node.role)
}

// exec runs a command in the node's container (not in its engine).
func (n *dindNode) exec(ctx context.Context, cmd ...string) error {
	code, out, err := n.container.Exec(ctx, cmd)
	if err != nil {
		return fmt.Errorf("%s: %v: %w", n.role, cmd, err)
	}
	if code != 0 {
		printed, _ := io.ReadAll(out)
		return fmt.Errorf("%s: %v exited %d: %s", n.role, cmd, code, printed)
	}
	return nil
}

// pause freezes every process of the node (docker pause): its engine and
// its jobs stop, its connections stay open.
func (n *dindNode) pause(ctx context.Context, host *client.Client) error {
	if _, err := host.ContainerPause(ctx, n.container.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause node %s: %w", n.role, err)
	}
	return nil
}

// unpause lets the node's processes run again.
func (n *dindNode) unpause(ctx context.Context, host *client.Client) error {
	if _, err := host.ContainerUnpause(ctx, n.container.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause node %s: %w", n.role, err)
	}
	return nil
}

// ensureUnpaused unpauses the node if it is paused: what a test that
// paused it does when it ends, however it ended.
func (n *dindNode) ensureUnpaused(ctx context.Context, host *client.Client) error {
	state, err := n.container.State(ctx)
	if err != nil {
		return fmt.Errorf("inspect node %s: %w", n.role, err)
	}
	if state.Paused {
		return n.unpause(ctx, host)
	}
	return nil
}

// nodeStates records the states the manager gives a node, from its node
// events, to tell how long the swarm saw the node down.
type nodeStates struct {
	nodeID string
	stop   context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	// downAt is when the node went down, zero while it is not; longest the
	// longest time it was down, and times how many times it went down.
	downAt  time.Time
	longest time.Duration
	times   int
	// down is signalled when the node goes down.
	down chan struct{}
}

// recordNodeStates records node n's states as the manager gives them,
// from now until the test ends.
func (s *dindSwarm) recordNodeStates(t *testing.T, ctx context.Context, n *dindNode) *nodeStates {
	t.Helper()
	ctx, stop := context.WithCancel(ctx)
	ns := &nodeStates{nodeID: n.nodeID, stop: stop, done: make(chan struct{}), down: make(chan struct{}, 1)}
	// Since now: the events that come before the stream is open are
	// replayed, so none is missed.
	since := time.Now()
	stream := s.manager.api.Events(ctx, client.EventsListOptions{Since: fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Filters: make(client.Filters).Add("type", "node")})
	go ns.read(stream)
	t.Cleanup(ns.finish)
	return ns
}

func (ns *nodeStates) read(stream client.EventsResult) {
	defer close(ns.done)
	for {
		select {
		case m := <-stream.Messages:
			ns.note(m)
		case <-stream.Err:
			return
		}
	}
}

// note records a node event: its new state, when it has one.
func (ns *nodeStates) note(m events.Message) {
	if m.Actor.ID != ns.nodeID {
		return
	}
	state, at := m.Actor.Attributes["state.new"], time.Unix(0, m.TimeNano)
	ns.mu.Lock()
	defer ns.mu.Unlock()
	switch {
	case state == string(swarm.NodeStateDown) && ns.downAt.IsZero():
		ns.downAt, ns.times = at, ns.times+1
		notifyOne(ns.down)
	case state == string(swarm.NodeStateReady) && !ns.downAt.IsZero():
		ns.longest = max(ns.longest, at.Sub(ns.downAt))
		ns.downAt = time.Time{}
	}
}

// finish stops the recording.
func (ns *nodeStates) finish() {
	ns.stop()
	<-ns.done
}

// wentDown reports how many times the node went down and for how long at
// most (until now, if it is still down).
func (ns *nodeStates) wentDown() (times int, longest time.Duration) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	longest = ns.longest
	if !ns.downAt.IsZero() {
		longest = max(longest, time.Since(ns.downAt))
	}
	return ns.times, longest
}

// dindFaultRunner returns a Runner on the DinD swarm's manager, closed
// when the test ends.
func dindFaultRunner(t *testing.T, s *dindSwarm) *oneshot.Runner {
	t.Helper()
	r, err := oneshot.NewRunner(oneshot.WithClient(s.manager.api))
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// startNodeFaultJob starts a gated job on node n through r.
func (s *dindSwarm) startNodeFaultJob(t *testing.T, ctx context.Context, r *oneshot.Runner, n *dindNode, name string, code int) *faultJob {
	t.Helper()
	return startFaultJob(t, ctx, r, s.jobImage, name, code, newNodeGate(t, ctx, n), oneshot.WithConstraint("node.hostname=="+n.role))
}

// pausedWorker is a DinD fault test on a worker that the test pauses: the
// worker is unpaused when the test ends, before dindTest checks that
// every node is ready and nothing is left.
func pausedWorker(t *testing.T) (context.Context, *dindSwarm, *dindNode) {
	t.Helper()
	s := dindTest(t)
	ctx := testContext(t, 2*time.Minute)
	worker := s.workers[0]
	t.Cleanup(func() { require.NoError(t, worker.ensureUnpaused(context.Background(), s.host), "unpause the worker") })
	return ctx, s, worker
}

// TestFaultDinDWorkerPausedAndBack pauses the worker that runs a job, then
// unpauses it: (a) after dindBriefPause, shorter than the swarm needs to
// mark it down; (b) as soon as the manager has marked it down. A worker
// the manager never marked down must cost nothing: the job ends with its
// true result, its output byte for byte. A worker the manager marked down,
// even for a moment, loses its job: the swarm shuts down the tasks of a
// node it marks down (swarmkit's replicated orchestrator; with restart
// condition none, it makes no other), and the worker stops the container
// once it is back. Wait must then say the job's node was lost
// (ErrNodeLost), not make up a result.
func TestFaultDinDWorkerPausedAndBack(t *testing.T) {
	for _, c := range []struct {
		name string
		hold func(t *testing.T, states *nodeStates)
	}{
		{"briefly", func(*testing.T, *nodeStates) { time.Sleep(dindBriefPause) }}, // the fault's length, not a synchronisation
		{"until down", func(t *testing.T, states *nodeStates) {
			requireSoon(t, states.down, time.Minute, "the manager marked the paused worker down")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, s, worker := pausedWorker(t)
			j := s.startNodeFaultJob(t, ctx, dindFaultRunner(t, s), worker, "paused", 3)
			states := s.recordNodeStates(t, ctx, worker)
			requireSoon(t, j.stdout.when("paused before\n"), time.Minute, "the job's first line streamed")

			paused := time.Now()
			require.NoError(t, worker.pause(ctx, s.host))
			c.hold(t, states)
			require.NoError(t, worker.unpause(ctx, s.host))
			frozen := time.Since(paused)
			w := awaitPausedJob(t, j, states)
			times, longest := states.wentDown()
			t.Logf("worker frozen for %s; the manager saw it down %d time(s), at most %s; Wait returned %s after the unpause (gate opened: %t): %v",
				frozen.Round(10*time.Millisecond), times, longest.Round(10*time.Millisecond), (time.Since(paused) - frozen).Round(10*time.Millisecond), !j.opened.IsZero(), w.err)
			if times == 0 {
				j.requireTrueResult(t, w)
				return
			}
			requireJobLostWithNode(t, w, j)
		})
	}
}

// dindSwarmShutdownBound is how soon after a worker the manager marked
// down is back the swarm must have shut the job's task down (1.6 s
// measured), with room for a loaded machine.
const dindSwarmShutdownBound = 30 * time.Second

// awaitPausedJob waits for the job of a worker just unpaused. If the
// manager marked the worker down, the swarm shuts the job's task down: its
// gate stays shut, so that what it printed is known; if the swarm left it
// running for dindSwarmShutdownBound, or if the worker was never marked
// down, the gate opens and the job must end on its own.
func awaitPausedJob(t *testing.T, j *faultJob, states *nodeStates) dindWaited {
	t.Helper()
	if times, _ := states.wentDown(); times > 0 {
		select {
		case w := <-j.done:
			return w
		case <-time.After(dindSwarmShutdownBound):
			t.Logf("the swarm left the job of a worker it marked down running for %s", dindSwarmShutdownBound)
		}
	}
	j.open(t)
	return j.wait(t, time.Minute, "the worker is back")
}

// requireJobLostWithNode fails the test unless w says that the job's node
// was lost, with what it printed before (all of it, if its gate is shut).
func requireJobLostWithNode(t *testing.T, w dindWaited, j *faultJob) {
	t.Helper()
	require.NotNil(t, w.res, "%v", w.err)
	t.Logf("the job's task ended %s, exit code %d, on a worker the manager marked down", w.res.State, w.res.ExitCode)
	var taskErr *oneshot.TaskError
	require.ErrorAs(t, w.err, &taskErr, "the job did not end on its own: no exit code of its own")
	assert.NotErrorIs(t, w.err, oneshot.ErrServiceRemoved, "nobody removed the job's service: the swarm shut its task down because its node was down")
	assert.ErrorIs(t, w.err, oneshot.ErrNodeLost, "the swarm shut the job's task down because its node was down")
	before := j.name + " before\n"
	if j.opened.IsZero() {
		assert.Equal(t, before, string(w.res.Stdout), "what the job printed before its node was lost")
	} else {
		assert.True(t, strings.HasPrefix(string(w.res.Stdout), before), "what the job printed before its node was lost: %q", w.res.Stdout)
	}
}

// TestFaultDinDWorkerPausedPastTheBound keeps the worker that runs a job
// paused until Wait returns: the job must be reported lost (ErrNodeLost)
// within dindPausedLossBound. Once unpaused, the worker must remove the
// job's container (dindTest checks).
func TestFaultDinDWorkerPausedPastTheBound(t *testing.T) {
	ctx, s, worker := pausedWorker(t)
	j := s.startNodeFaultJob(t, ctx, dindFaultRunner(t, s), worker, "frozen", 6)
	requireSoon(t, j.stdout.when("frozen before\n"), time.Minute, "the job's first line streamed")

	paused := time.Now()
	require.NoError(t, worker.pause(ctx, s.host))
	w := j.wait(t, time.Minute, "a paused worker is a lost one, in the end")
	detected := time.Since(paused)
	require.NoError(t, worker.unpause(ctx, s.host))
	t.Logf("node loss reported %s after the worker was paused: %v", detected.Round(10*time.Millisecond), w.err)
	require.ErrorIs(t, w.err, oneshot.ErrNodeLost)
	require.NotNil(t, w.res)
	assert.Equal(t, worker.nodeID, w.res.NodeID)
	assert.Equal(t, -1, w.res.ExitCode, "no exit code: the outcome is unknown")
	assert.Less(t, detected, dindPausedLossBound, "with a %s heartbeat", dindHeartbeat)
	assert.Equal(t, "frozen before\n", string(w.res.Stdout), "what the job printed before the pause is in the Result")
	assert.Equal(t, "frozen before\n", j.stdout.String(), "what the job printed before the pause was streamed")
}

// TestFaultDinDEventStreamCut cuts the event stream between a Runner and
// the manager while two jobs run, one on a worker and one on the manager,
// and refuses it from then on: the task poll alone must end both, with
// their true results, soon after their tasks end.
func TestFaultDinDEventStreamCut(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 2*time.Minute)
	p := startFaultProxy(t, s.manager.Host())
	localExit := &attrRecorder{key: "local_exit_event"}
	r := faultRunner(t, p, oneshot.WithLogger(slog.New(localExit)))
	jobs := []*faultJob{
		s.startNodeFaultJob(t, ctx, r, s.workers[1], "worker", 0),
		s.startNodeFaultJob(t, ctx, r, s.manager, "manager", 8),
	}
	requireEndsWithoutEvents(t, p, jobs, localExit)
}
