package integration

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// How the Runner follows a job: the requests it makes while a job runs
// steadily, and how soon it notices a job's end, on the local node (where
// a container's die event reaches it) and on a worker of the 3-node DinD
// swarm (where only the task poll can find the end).

// steadyJob runs steadily for 10 s.
var steadyJob = []string{"sleep", "10s"}

// detectionJobs is how many trivial jobs, one after the other, measure how
// soon the end is noticed.
const detectionJobs = 20

func benchSteadyLocal(b *testing.B, table *benchTable) {
	r, counter := countingRunner(b)
	require.NoError(b, runTrivial(context.Background(), r), "a first job, so that the Runner is warm")
	counts, window := steadyWindow(b, r, &counter.requestCounter, jobkitImage, oneshot.WithLabel(benchLabel, "true"))
	table.add(steadyRow("a job running steadily 10 s on the local node", counts, window, 2))
}

func benchDetection(b *testing.B, table *benchTable) {
	local, _ := countingRunner(b)
	noticed, returned := noticeDelays(b, local, jobkitImage, oneshot.WithLabel(benchLabel, "true"))
	table.add(detectionRow("the local node", noticed, returned))

	s := startBenchDinD(b)
	counter := &countingTransport{base: &http.Transport{}}
	remote := runnerThrough(b, s.Manager().Host(), counter)
	onWorker := oneshot.WithConstraint("node.role==worker")
	noticed, returned = noticeDelays(b, remote, s.jobImage, onWorker)
	table.add(detectionRow("a worker of the 3-node DinD swarm", noticed, returned))
	counts, window := steadyWindow(b, remote, &counter.requestCounter, s.jobImage, onWorker)
	table.add(steadyRow("a job running steadily 10 s on a worker of the DinD swarm", counts, window, 10))
}

// steadyWindow runs steadyJob through r and returns the requests counter
// counted from 3 s to 8 s after the job began to run, and that window.
func steadyWindow(b *testing.B, r *oneshot.Runner, counter *requestCounter, image string, opts ...oneshot.Option) (requestCounts, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	running := newCountdown(1)
	job, err := r.Start(ctx, oneshot.JobSpec{Image: image, Command: steadyJob}, append(opts, running.onRunning())...)
	require.NoError(b, err)
	require.True(b, running.wait(b, time.Minute), "the steady job runs")
	time.Sleep(3 * time.Second)
	before, start := counter.snapshot(), time.Now()
	time.Sleep(5 * time.Second)
	counts, window := counter.snapshot().minus(before), time.Since(start)
	_, err = job.Wait(ctx)
	require.NoError(b, err)
	return counts, window
}

// steadyRow reports the requests/s of a steady window, held to at most
// pollLimit requests a second in all (the shared poll's task and node
// lists, and anything else).
func steadyRow(what string, counts requestCounts, window time.Duration, pollLimit float64) benchRow {
	rate := float64(counts.total()) / window.Seconds()
	return benchRow{
		what:    what + ": requests/s in its middle 5 s",
		oneshot: fmt.Sprintf("%s req/s (%s)", twoPlaces(rate), orNone(counts.breakdown(window.Seconds()))),
		goal:    atMost(rate, pollLimit, fmt.Sprintf("≤%g req/s", pollLimit)),
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// noticeDelays runs detectionJobs trivial jobs through r one after the
// other and returns, for each, how long after its task's final status
// timestamp the Runner reported the end (WithStatusFunc) and Run returned.
// The DinD nodes share the host's clock.
func noticeDelays(b *testing.B, r *oneshot.Runner, image string, opts ...oneshot.Option) (noticed, returned []time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := r.Run(ctx, oneshot.JobSpec{Image: image, Command: trivialJob}, opts...)
	require.NoError(b, err, "a first job, so that the Runner is warm")
	for range detectionJobs {
		var mu sync.Mutex
		var end time.Time
		var after time.Duration
		report := oneshot.WithStatusFunc(func(s oneshot.TaskStatus) {
			mu.Lock()
			defer mu.Unlock()
			if s.State.Terminal() && end.IsZero() {
				end, after = s.Time, time.Since(s.Time)
			}
		})
		_, err := r.Run(ctx, oneshot.JobSpec{Image: image, Command: trivialJob}, append(opts, report)...)
		done := time.Now()
		require.NoError(b, err)
		mu.Lock()
		require.False(b, end.IsZero(), "the terminal state was reported")
		noticed, returned = append(noticed, after), append(returned, done.Sub(end))
		mu.Unlock()
	}
	return noticed, returned
}

// detectionRow reports how soon the end of a job on where was noticed.
func detectionRow(where string, noticed, returned []time.Duration) benchRow {
	p50 := durationPercentile(noticed, 50)
	return benchRow{
		what: fmt.Sprintf("end of a trivial job on %s noticed after its task's final timestamp (%d jobs)", where, len(noticed)),
		oneshot: fmt.Sprintf("p50 %s, p90 %s (Run returned: p50 %s, p90 %s)", millis(p50), millis(durationPercentile(noticed, 90)),
			millis(durationPercentile(returned, 50)), millis(durationPercentile(returned, 90))),
		goal: atMost(p50.Seconds(), 0.1, "p50 ≤100 ms"),
	}
}

// startBenchDinD starts a 3-node DinD swarm of its own for the benchmark
// and tears it down when the benchmark ends.
func startBenchDinD(b *testing.B) *dindSwarm {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	host, err := client.New(client.FromEnv)
	require.NoError(b, err)
	s, err := startDinD(ctx, host, 2)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.teardown(ctx); err != nil {
			b.Errorf("tear the DinD swarm down: %v", err)
		}
		_ = host.Close()
	})
	require.NoError(b, err, "start the DinD swarm")
	b.Logf("DinD swarm %s up in %s", s.run, s.setup.Round(10*time.Millisecond))
	return s
}
