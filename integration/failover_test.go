package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// failoverLines is how many lines each job prints on each stream, one
// pair every failoverPace: the jobs run ~20 s, long enough to be cut in
// the middle by the loss of a manager and the swarm's election of another
// leader.
const (
	failoverLines = 10
	failoverPace  = "2s"
)

// failoverJob is the command of job i: failoverLines numbered lines on
// stdout and on stderr, then exit i; and what it prints.
func failoverJob(i int) (cmd []string, stdout, stderr string) {
	for k := 1; k <= failoverLines; k++ {
		out, errLine := fmt.Sprintf("job %d out %02d", i, k), fmt.Sprintf("job %d err %02d", i, k)
		cmd = append(cmd, "echo", out, "--", "stderr", errLine, "--")
		if k < failoverLines {
			cmd = append(cmd, "sleep", failoverPace, "--")
		}
		stdout += out + "\n"
		stderr += errLine + "\n"
	}
	return append(cmd, "exit", fmt.Sprint(i)), stdout, stderr
}

// TestFailoverKeepsJobsThroughAManagersLoss runs 5 jobs on a swarm of 3
// managers through a Runner WithHosts(m1, m2, m3), which uses m1; the
// jobs run on m2 and m3. Once each job has printed its first line, m1's
// engine is killed (it is the raft leader: the others elect another).
// Every job still returns its whole Result, byte for byte, and its live
// writers get every byte once, through another manager; no service is
// left.
func TestFailoverKeepsJobsThroughAManagersLoss(t *testing.T) {
	ctx := testContext(t, 6*time.Minute)
	host, err := client.New(client.FromEnv)
	require.NoError(t, err)
	defer host.Close()
	setupStart := time.Now()
	s, err := startDinDManagers(ctx, host, 3)
	t.Cleanup(func() { assert.NoError(t, s.teardown(context.Background()), "tear the 3-manager swarm down") })
	require.NoError(t, err)
	t.Logf("3-manager swarm %s up in %s", s.run, time.Since(setupStart).Round(10*time.Millisecond))
	m1, others := s.manager, s.workers

	moves := &moveRecorder{}
	r, err := oneshot.NewRunner(oneshot.WithHosts(m1.Host(), others[0].Host(), others[1].Host()), oneshot.WithLogger(slog.New(moves)))
	require.NoError(t, err)
	defer r.Close()

	const n = 5
	jobs := make([]*failoverRun, n)
	for i := range jobs {
		jobs[i] = startFailoverJob(t, ctx, r, s, i)
	}
	for _, j := range jobs {
		select {
		case <-j.stdout.when(fmt.Sprintf("job %d out 01\n", j.index)):
		case <-ctx.Done():
			t.Fatalf("job %d never printed its first line: %q", j.index, j.stdout.String())
		}
	}
	killed := time.Now()
	require.NoError(t, m1.kill(ctx, s.host), "kill the manager in use")
	t.Logf("killed %s (the manager in use, raft leader) in %s", m1.role, time.Since(killed).Round(10*time.Millisecond))
	elected := whenSwarmAnswers(ctx, others[0])

	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.wait(ctx, killed)
		}()
	}
	wg.Wait()
	t.Logf("all %d jobs returned %s after the kill; the swarm had a leader again %s after it; the Runner moved %s",
		n, time.Since(killed).Round(10*time.Millisecond), (<-elected).Sub(killed).Round(10*time.Millisecond), moves.summary(killed))

	for _, j := range jobs {
		j.check(t)
	}
	require.NotEmpty(t, moves.times(), "the Runner moved to another manager")
	requireNoJobLeft(t, ctx, others)
}

// whenSwarmAnswers says when manager n first serves the swarm's API again
// once its leader is dead (a node list answered within a second: there
// is a leader), for the log; it asks every 250 ms.
func whenSwarmAnswers(ctx context.Context, n *dindNode) <-chan time.Time {
	at := make(chan time.Time, 1)
	go func() {
		defer close(at)
		for ctx.Err() == nil {
			ask, cancel := context.WithTimeout(ctx, time.Second)
			_, err := n.api.NodeList(ask, client.NodeListOptions{})
			cancel()
			if err == nil {
				at <- time.Now()
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	return at
}

// failoverRun is one job of TestFailoverKeepsJobsThroughAManagersLoss.
type failoverRun struct {
	index          int
	job            *oneshot.Job
	stdout, stderr *liveBuffer
	wantOut        string
	wantErr        string
	res            *oneshot.Result
	err            error
	// resumed is how long after the kill its first line printed after
	// the kill came; took how long after the kill Wait returned.
	resumed, took time.Duration
}

// startFailoverJob starts job i on a manager other than the swarm's first.
func startFailoverJob(t *testing.T, ctx context.Context, r *oneshot.Runner, s *dindSwarm, i int) *failoverRun {
	t.Helper()
	cmd, wantOut, wantErr := failoverJob(i)
	j := &failoverRun{index: i, stdout: &liveBuffer{}, stderr: &liveBuffer{}, wantOut: wantOut, wantErr: wantErr}
	var err error
	j.job, err = r.Start(ctx, oneshot.JobSpec{Image: s.jobImage, Command: cmd},
		oneshot.WithConstraint("node.hostname!="+s.manager.role), oneshot.WithStdout(j.stdout), oneshot.WithStderr(j.stderr))
	require.NoError(t, err, "start job %d", i)
	return j
}

// wait waits for the job, noting when its output resumed after the kill.
func (j *failoverRun) wait(ctx context.Context, killed time.Time) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		j.res, j.err = j.job.Wait(ctx)
		j.took = time.Since(killed)
	}()
	// The first stdout line the job had not printed when the node was
	// killed (a line it printed in the meantime may be the one).
	printed := strings.Count(j.stdout.String(), "\n")
	if printed < failoverLines {
		select {
		case <-j.stdout.when(fmt.Sprintf("job %d out %02d\n", j.index, printed+1)):
			j.resumed = time.Since(killed)
		case <-done:
		}
	}
	<-done
}

// check holds what WithHosts promises for the job.
func (j *failoverRun) check(t *testing.T) {
	t.Helper()
	t.Logf("job %d: Wait returned %s after the kill (output resumed after %s): %v", j.index,
		j.took.Round(10*time.Millisecond), j.resumed.Round(10*time.Millisecond), j.err)
	require.NotNil(t, j.res, "job %d: %v", j.index, j.err)
	var outErr *oneshot.OutputError
	assert.False(t, errors.As(j.err, &outErr), "job %d: no output missing, late or repeated: %v", j.index, j.err)
	if j.index == 0 {
		assert.NoError(t, j.err)
	} else {
		var exitErr *oneshot.ExitError
		assert.ErrorAs(t, j.err, &exitErr, "job %d", j.index)
	}
	assert.Equal(t, j.index, j.res.ExitCode, "job %d", j.index)
	requireSameBytes(t, []byte(j.wantOut), j.res.Stdout, fmt.Sprintf("job %d Result stdout", j.index))
	requireSameBytes(t, []byte(j.wantErr), j.res.Stderr, fmt.Sprintf("job %d Result stderr", j.index))
	requireSameBytes(t, []byte(j.wantOut), j.stdout.Bytes(), fmt.Sprintf("job %d live stdout", j.index))
	requireSameBytes(t, []byte(j.wantErr), j.stderr.Bytes(), fmt.Sprintf("job %d live stderr", j.index))
}

// requireNoJobLeft checks through the managers still up that no job
// service is left, and that their nodes have no job container left
// (the swarm removes them a moment after their services).
func requireNoJobLeft(t *testing.T, ctx context.Context, managers []*dindNode) {
	t.Helper()
	managed := oneshot.LabelManaged + "=true"
	list, err := managers[0].api.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", managed)})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "job services left on the swarm")
	for _, n := range managers {
		events := make(client.Filters).Add("type", "container").Add("label", managed)
		assert.NoError(t, waitUntil(ctx, n.api, events, func(ctx context.Context) (bool, error) {
			left, err := n.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", managed)})
			if err != nil {
				return false, err
			}
			return len(left.Items) == 0, fmt.Errorf("%d job containers left on %s", len(left.Items), n.role)
		}), "job containers left on %s", n.role)
	}
}

// moveRecorder is a slog.Handler that notes when the Runner moved to
// another manager, and where.
type moveRecorder struct {
	mu    sync.Mutex
	moves []string
	at    []time.Time
}

func (h *moveRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *moveRecorder) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "moving to the next") {
		return nil
	}
	var from, next, why string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "host":
			from = a.Value.String()
		case "next":
			next = a.Value.String()
		case "err":
			why = a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.moves = append(h.moves, fmt.Sprintf("%s -> %s (%.200s)", from, next, why))
	h.at = append(h.at, r.Time)
	return nil
}

func (h *moveRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *moveRecorder) WithGroup(string) slog.Handler      { return h }

func (h *moveRecorder) times() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.at...)
}

// summary says when, after since, the Runner moved, and why.
func (h *moveRecorder) summary(since time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var parts []string
	for i, m := range h.moves {
		parts = append(parts, fmt.Sprintf("+%s %s", h.at[i].Sub(since).Round(10*time.Millisecond), m))
	}
	return fmt.Sprintf("%d time(s): %s", len(h.moves), strings.Join(parts, "; "))
}
