package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// The fault tests (issue 12): a Runner whose engine misbehaves, on the
// local single-node swarm here and on the 3-node DinD swarm in
// faults_dind_test.go. The engine's faults are played by a faultProxy
// (faults_proxy_test.go) between the Runner and the engine: event streams
// cut and refused, a request held unanswered, every request slowed down.
// Jobs are held by gates (files they wait for) and the proxy says when a
// request arrived or was abandoned: no sleep synchronises anything. The
// bounds on time are generous and come from the library's constants.

// Bounds on time, from the library's constants (logs.go, wait.go):
const (
	// followOpenBound is how soon a log follow the engine never answers
	// must be abandoned: followOpenTimeout (5 s), with room for a loaded
	// machine.
	followOpenBound = 30 * time.Second
	// pollHangBound is how soon a task poll (TaskList, NodeList) the
	// engine never answers must be abandoned, so that the Runner's jobs do
	// not all wait on it: the contract of issue 12 (the per-poll timeout
	// must be well below it), with room for a loaded machine.
	pollHangBound = 30 * time.Second
	// pollOnlyBound is how soon after its task ended a job must end when
	// only the task poll can tell (no event stream): the poll looks at
	// least every maxPoll (1 s), and an event stream refused is retried
	// after at most maxEventRetry (2 s); the rest is room for a loaded
	// machine.
	pollOnlyBound = 30 * time.Second
)

// jobGate holds a job until the test opens it: a directory mounted at
// /gate in the job, in which the job waits for the file open.
type jobGate interface {
	mount() oneshot.Option
	open(t *testing.T)
}

// faultJob is a job of a fault test: it prints "NAME before", waits for
// its gate, prints "NAME after" and exits with its code.
type faultJob struct {
	name           string
	code           int
	gate           jobGate
	stdout, stderr *liveBuffer
	done           chan dindWaited
	// opened is when the gate was opened; took how long after that Wait
	// returned.
	opened time.Time
	took   time.Duration
}

func (j *faultJob) command() []string {
	return []string{"echo", j.name + " before", "--", "waitfile", "/gate/open", "--", "echo", j.name + " after", "--", "exit", fmt.Sprint(j.code)}
}

// wantStdout is all the job prints.
func (j *faultJob) wantStdout() string { return j.name + " before\n" + j.name + " after\n" }

// startFaultJob starts the job on r and returns once its task runs.
func startFaultJob(t *testing.T, ctx context.Context, r *oneshot.Runner, image, name string, code int, g jobGate, opts ...oneshot.Option) *faultJob {
	t.Helper()
	j := &faultJob{name: name, code: code, gate: g, stdout: &liveBuffer{}, stderr: &liveBuffer{}, done: make(chan dindWaited, 1)}
	running := make(chan struct{})
	opts = append(opts, g.mount(), runningStatus(running), oneshot.WithStdout(j.stdout), oneshot.WithStderr(j.stderr))
	job, err := r.Start(ctx, oneshot.JobSpec{Image: image, Command: j.command()}, opts...)
	require.NoError(t, err, "start job %s", name)
	go func() {
		res, err := job.Wait(ctx)
		j.done <- dindWaited{res, err}
	}()
	select {
	case <-running:
	case w := <-j.done:
		t.Fatalf("job %s ended before it ran: %v", name, w.err)
	case <-ctx.Done():
		t.Fatalf("job %s never ran", name)
	}
	return j
}

// open opens the job's gate.
func (j *faultJob) open(t *testing.T) {
	t.Helper()
	j.opened = time.Now()
	j.gate.open(t)
}

// wait returns what Wait returned, failing the test if it does not
// return within bound (from now).
func (j *faultJob) wait(t *testing.T, bound time.Duration, why string) dindWaited {
	t.Helper()
	select {
	case w := <-j.done:
		if !j.opened.IsZero() {
			j.took = time.Since(j.opened)
		}
		return w
	case <-time.After(bound):
		t.Fatalf("job %s: Wait did not return within %s: %s", j.name, bound, why)
	}
	return dindWaited{}
}

// requireTrueResult fails the test unless w is the job's true outcome:
// its exit code, its whole output byte for byte in the Result and on the
// live writers, and no other error.
func (j *faultJob) requireTrueResult(t *testing.T, w dindWaited) {
	t.Helper()
	require.NotNil(t, w.res, "job %s: %v", j.name, w.err)
	var outErr *oneshot.OutputError
	assert.False(t, errors.As(w.err, &outErr), "job %s: no output missing, late or repeated: %v", j.name, w.err)
	if j.code == 0 {
		require.NoError(t, w.err, "job %s", j.name)
	} else {
		var exitErr *oneshot.ExitError
		require.ErrorAs(t, w.err, &exitErr, "job %s", j.name)
		_, alone := w.err.(*oneshot.ExitError)
		assert.True(t, alone, "job %s: the ExitError alone: %v", j.name, w.err)
	}
	assert.Equal(t, j.code, w.res.ExitCode, "job %s", j.name)
	requireSameBytes(t, []byte(j.wantStdout()), w.res.Stdout, "job "+j.name+" Result stdout")
	requireSameBytes(t, nil, w.res.Stderr, "job "+j.name+" Result stderr")
	requireSameBytes(t, []byte(j.wantStdout()), j.stdout.Bytes(), "job "+j.name+" live stdout")
	requireSameBytes(t, nil, j.stderr.Bytes(), "job "+j.name+" live stderr")
}

// requireSoon waits until ch says something happened, failing the test with
// what if it does not within bound.
func requireSoon[T any](t *testing.T, ch <-chan T, bound time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(bound):
		t.Fatalf("%s: not within %s", what, bound)
	}
}

// faultRunner returns a Runner that reaches the engine through p. When
// the test ends, p's held requests are let through, then the Runner is
// closed (stopping its jobs and removing their services), then p stops.
func faultRunner(t *testing.T, p *faultProxy, opts ...oneshot.RunnerOption) *oneshot.Runner {
	t.Helper()
	r, err := oneshot.NewRunner(append([]oneshot.RunnerOption{oneshot.WithHost(p.host)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	t.Cleanup(p.releaseAll)
	return r
}

// localFaultSetup is what a local fault test starts with: a proxy to the
// local engine, a Runner through it (logging whether a job's end was
// seen through an event), and a context bounding the test.
func localFaultSetup(t *testing.T, d time.Duration) (context.Context, *faultProxy, *oneshot.Runner, *attrRecorder) {
	t.Helper()
	requireNothingLeft(t)
	ctx := testContext(t, d)
	p := startFaultProxy(t, localDocker(t).DaemonHost())
	localExit := &attrRecorder{key: "local_exit_event"}
	return ctx, p, faultRunner(t, p, oneshot.WithLogger(slog.New(localExit))), localExit
}

// startLocalFaultJob starts a gated job on the local swarm through r.
func startLocalFaultJob(t *testing.T, ctx context.Context, r *oneshot.Runner, name string, code int) *faultJob {
	t.Helper()
	return startFaultJob(t, ctx, r, jobkitImage, name, code, newGate(t), testLabel(t))
}

// TestFaultLocalEventStreamCut cuts the Runner's event stream while two
// jobs run, and refuses it from then on: the task poll alone must end
// them, with their true results, soon after their tasks end.
func TestFaultLocalEventStreamCut(t *testing.T) {
	ctx, p, r, localExit := localFaultSetup(t, 2*time.Minute)
	jobs := []*faultJob{startLocalFaultJob(t, ctx, r, "zero", 0), startLocalFaultJob(t, ctx, r, "three", 3)}
	requireEndsWithoutEvents(t, p, jobs, localExit)
}

// requireEndsWithoutEvents cuts the Runner's event stream once it is open,
// then opens the jobs' gates, and requires each job to end with its true
// result through the task poll alone.
func requireEndsWithoutEvents(t *testing.T, p *faultProxy, jobs []*faultJob, localExit *attrRecorder) {
	t.Helper()
	requireSoon(t, p.eventsOpened, time.Minute, "the Runner's event stream opened")
	p.cutEvents()
	requireSoon(t, p.eventsRefused, time.Minute, "the Runner tried to open its event stream again, and was refused")
	for _, j := range jobs {
		j.open(t)
	}
	for _, j := range jobs {
		j.requireTrueResult(t, j.wait(t, pollOnlyBound, "the task poll alone must end it"))
		t.Logf("job %s: Wait returned %s after its gate opened, with no event stream", j.name, j.took.Round(10*time.Millisecond))
	}
	assert.Equal(t, []any{false, false}, localExit.values(), "no container event ended a job: the task poll did")
	assert.Zero(t, p.openEventStreams(), "no event stream was served after the cut")
	t.Logf("the Runner tried its event stream %d times after the cut, refused each time", p.refusedEventStreams())
}

// TestFaultLocalSlowEngine runs jobs through an engine that answers every
// request 300 ms late (the poll, the log reads, the creates and removes):
// each job still ends with its true result.
func TestFaultLocalSlowEngine(t *testing.T) {
	ctx, p, r, _ := localFaultSetup(t, 2*time.Minute)
	p.slowDown(300 * time.Millisecond)
	jobs := []*faultJob{startLocalFaultJob(t, ctx, r, "zero", 0), startLocalFaultJob(t, ctx, r, "five", 5), startLocalFaultJob(t, ctx, r, "nine", 9)}
	for _, j := range jobs {
		j.open(t)
	}
	for _, j := range jobs {
		j.requireTrueResult(t, j.wait(t, time.Minute, "a slow engine still answers"))
		t.Logf("job %s: Wait returned %s after its gate opened, every request 300 ms late", j.name, j.took.Round(10*time.Millisecond))
	}
}

// TestFaultLocalHungLogFollow holds a job's first log follow unanswered:
// the follow must be abandoned within followOpenBound and opened again,
// and the job must end with its true result, its live writers included.
func TestFaultLocalHungLogFollow(t *testing.T) {
	ctx, p, r, _ := localFaultSetup(t, 2*time.Minute)
	held := p.holdNext(isLogFollow)
	j := startLocalFaultJob(t, ctx, r, "seven", 7)
	requireSoon(t, held.arrived, time.Minute, "the job's log follow reached the engine")
	requireSoon(t, held.abandoned, followOpenBound, "the Runner abandoned the follow the engine never answered")
	t.Logf("the follow the engine never answered was abandoned after %s", held.heldFor().Round(10*time.Millisecond))

	j.open(t)
	j.requireTrueResult(t, j.wait(t, time.Minute, "its follow was opened again"))
}

// TestFaultLocalHungFinalLogRead holds one job's final log read
// unanswered: another job of the same Runner must run and end meanwhile,
// and the held job must not end without its output. (The read's own bound
// is logReadTimeout, 2 min: too long to wait for here; the test lets the
// read through instead.)
func TestFaultLocalHungFinalLogRead(t *testing.T) {
	ctx, p, r, _ := localFaultSetup(t, 2*time.Minute)
	stuck := startLocalFaultJob(t, ctx, r, "stuck", 4)
	held := p.holdNext(isLogRead)
	stuck.open(t)
	requireSoon(t, held.arrived, time.Minute, "the stuck job's final log read reached the engine")

	other := startLocalFaultJob(t, ctx, r, "other", 6)
	other.open(t)
	other.requireTrueResult(t, other.wait(t, time.Minute, "another job's stuck log read must not hold it"))
	select {
	case w := <-stuck.done:
		t.Fatalf("the stuck job ended while its final log read was held: %v", w.err)
	default:
	}
	held.release()
	stuck.requireTrueResult(t, stuck.wait(t, time.Minute, "its final read was let through"))
}

// TestFaultLocalHungTaskPoll holds one request of the Runner's shared task
// poll unanswered (the task list; the node list it reads too) while two
// jobs run: the Runner must abandon it within pollHangBound, and both jobs
// must then end with their true results.
func TestFaultLocalHungTaskPoll(t *testing.T) {
	for _, c := range []struct {
		name  string
		match func(*http.Request) bool
	}{
		{"task list", isTaskList},
		{"node list", isNodeList},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, p, r, _ := localFaultSetup(t, 3*time.Minute)
			jobs := []*faultJob{startLocalFaultJob(t, ctx, r, "zero", 0), startLocalFaultJob(t, ctx, r, "two", 2)}
			held := p.holdNext(c.match)
			requireSoon(t, held.arrived, time.Minute, "the poll's "+c.name+" reached the engine")
			for _, j := range jobs {
				j.open(t)
			}
			select {
			case <-held.abandoned:
				t.Logf("the %s the engine never answered was abandoned after %s", c.name, held.heldFor().Round(10*time.Millisecond))
			case <-time.After(pollHangBound):
				t.Fatalf("the poll's %s (%s) was still waiting for the engine %s after it was sent; %s",
					c.name, held.path, pollHangBound, frozenJobs(ctx, t, jobs))
			}
			for _, j := range jobs {
				j.requireTrueResult(t, j.wait(t, pollOnlyBound, "the poll went on after the hung request"))
			}
		})
	}
}

// frozenJobs says which jobs had not returned although their containers
// had exited: the evidence that they all wait on the hung poll.
func frozenJobs(ctx context.Context, t *testing.T, jobs []*faultJob) string {
	list, err := localDocker(t).ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", testLabelPair(t)).Add("status", "exited")})
	if err != nil {
		return fmt.Sprintf("listing the jobs' containers failed: %v", err)
	}
	waiting := 0
	for _, j := range jobs {
		select {
		case w := <-j.done:
			j.done <- w
		default:
			waiting++
		}
	}
	return fmt.Sprintf("%d of %d jobs had not returned, while %d of their containers had exited: every job of the Runner waits on that one request",
		waiting, len(jobs), len(list.Items))
}
