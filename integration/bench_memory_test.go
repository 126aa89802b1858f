package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// What a job in flight costs the process: heap and connections, measured
// while N jobs wait on a gate (a bind-mounted directory in which the job
// waits for a file), so that all N are in flight at once.

// inFlightSizes are the numbers of jobs held in flight at once.
var inFlightSizes = []int{1, 50, 200}

func benchMemory(b *testing.B, table *benchTable) {
	r, _ := countingRunner(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	require.NoError(b, runTrivial(ctx, r), "a first job, so that the Runner is warm")
	_, idleSockets := openFDs()
	var sockets []string
	for _, n := range inFlightSizes {
		m := holdInFlight(b, ctx, r, n)
		table.add(benchRow{
			what:    fmt.Sprintf("heap per job in flight, %d in flight (HeapAlloc after GC, median of 7, less the idle Runner's, ÷ %d)", n, n),
			oneshot: fmt.Sprintf("%s (%s)", kib(m.heapPerJob), m.whenMeasured(n)),
			goal:    atMost(m.heapPerJob, 64<<10, "≤64 KiB"),
		})
		sockets = append(sockets, fmt.Sprintf("%d in flight: %d (%s a job)", n, m.sockets, twoPlaces(float64(m.sockets-idleSockets)/float64(n))))
	}
	table.add(benchRow{
		what:    "connections (open sockets) of the process while jobs are in flight",
		oneshot: fmt.Sprintf("idle: %d; %s", idleSockets, strings.Join(sockets, "; ")),
	})
}

// inFlight is what the process held while n jobs were in flight.
type inFlight struct {
	heapPerJob float64
	sockets    int
	// running is how many of the jobs ran, after waited.
	running int
	waited  time.Duration
}

// whenMeasured says how many of the n jobs ran when the process was
// measured, and how long after the first Start.
func (m inFlight) whenMeasured(n int) string {
	if m.running == n {
		return fmt.Sprintf("all running %s after the first Start", secs(m.waited))
	}
	return fmt.Sprintf("**only %d of %d running** %s after the first Start, the others in flight but not yet running", m.running, n, secs(m.waited))
}

// allRunningWithin bounds the wait for n gated jobs to run: 200 containers
// take minutes to start on a busy 2-core machine.
const allRunningWithin = 4 * time.Minute

// holdInFlight starts n jobs that wait on a gate, measures the process once
// all are running (or allRunningWithin has passed: the measure says so),
// then opens the gate and waits for them.
func holdInFlight(b *testing.B, ctx context.Context, r *oneshot.Runner, n int) inFlight {
	gate := benchGate(b)
	baseline := medianHeap()
	running := newCountdown(n)
	jobs := make([]*oneshot.Job, n)
	start := time.Now()
	startErr := inParallel(n, func(i int) error {
		var err error
		jobs[i], err = r.Start(ctx, oneshot.JobSpec{Image: jobkitImage, Command: []string{"waitfile", "/gate/open", "--", "echo", "released"}},
			oneshot.WithBind(gate, "/gate"), oneshot.WithLabel(benchLabel, "true"), running.onRunning())
		return err
	})
	require.NoError(b, startErr, "start %d gated jobs", n)
	if !running.wait(b, allRunningWithin) {
		b.Logf("%d gated jobs: not all running after %s; the swarm's tasks: %s", n, allRunningWithin, benchTaskStates(b))
	}
	m := inFlight{running: n - int(running.left.Load()), waited: time.Since(start)}
	time.Sleep(time.Second) // the log followers of the last ones open
	m.heapPerJob = float64(int64(medianHeap())-int64(baseline)) / float64(n)
	_, m.sockets = openFDs()
	require.NoError(b, os.WriteFile(filepath.Join(gate, "open"), nil, 0o644))
	waitErr := inParallel(n, func(i int) error {
		if jobs[i] == nil {
			return nil
		}
		res, err := jobs[i].Wait(ctx)
		if err == nil && string(res.Stdout) != "released\n" {
			err = fmt.Errorf("the job printed %q", res.Stdout)
		}
		return err
	})
	require.NoError(b, waitErr, "%d gated jobs", n)
	return m
}

// benchTaskStates counts the tasks of the benchmark's jobs by state, as
// the swarm has them.
func benchTaskStates(b *testing.B) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli := localDocker(b)
	services, err := cli.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", benchLabel)})
	if err != nil {
		return err.Error()
	}
	byService := make(client.Filters)
	for _, s := range services.Items {
		byService.Add("service", s.ID)
	}
	tasks, err := cli.TaskList(ctx, client.TaskListOptions{Filters: byService})
	if err != nil {
		return err.Error()
	}
	states := map[string]int{}
	for _, t := range tasks.Items {
		states[string(t.Status.State)+" "+t.Status.Err]++
	}
	return fmt.Sprintf("%d services, tasks by state: %v", len(services.Items), states)
}

// benchGate makes the gate's directory, writable by the jobs.
func benchGate(b *testing.B) string {
	dir, err := os.MkdirTemp("", "oneshot-bench-gate")
	require.NoError(b, err)
	require.NoError(b, os.Chmod(dir, 0o777))
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// heapAfterGC is the live heap once collected.
// medianHeap is the median of heapSamples measures of the heap after GC,
// heapSpacing apart: a measure taken while the shared poll decodes a task
// list, or an event stream reads, counts buffers that are gone a moment
// later (at 1 in flight, one such measure weighed 80-150 KiB, others 20).
func medianHeap() uint64 {
	samples := make([]uint64, heapSamples)
	for i := range samples {
		if i > 0 {
			time.Sleep(heapSpacing)
		}
		samples[i] = heapAfterGC()
	}
	slices.Sort(samples)
	return samples[len(samples)/2]
}

const (
	heapSamples = 7
	heapSpacing = 150 * time.Millisecond
)

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// countdown is closed once n jobs have reported running.
type countdown struct {
	left atomic.Int64
	done chan struct{}
	once sync.Once
}

func newCountdown(n int) *countdown {
	c := &countdown{done: make(chan struct{})}
	c.left.Store(int64(n))
	return c
}

// onRunning counts the job down the first time it reports running.
func (c *countdown) onRunning() oneshot.Option {
	var once sync.Once
	return oneshot.WithStatusFunc(func(s oneshot.TaskStatus) {
		if s.State == oneshot.StateRunning {
			once.Do(func() {
				if c.left.Add(-1) == 0 {
					c.once.Do(func() { close(c.done) })
				}
			})
		}
	})
}

// wait says whether every job ran within d, logging every 30 s how many
// are still to run.
func (c *countdown) wait(b testing.TB, d time.Duration) bool {
	timeout := time.After(d)
	progress := time.NewTicker(30 * time.Second)
	defer progress.Stop()
	for {
		select {
		case <-c.done:
			return true
		case <-progress.C:
			b.Logf("%d jobs not running yet", c.left.Load())
		case <-timeout:
			return false
		}
	}
}
