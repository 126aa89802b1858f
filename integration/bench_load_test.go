package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// The manager's load and the throughput: bursts of trivial jobs at once
// from one Runner, its requests counted by kind, the 50-job burst timed
// against 50 CLI jobs and 50 `docker run`s, the 200-job burst checked for
// what it leaves behind.

// burstSizes are the numbers of trivial jobs run at once from one Runner.
var burstSizes = []int{1, 20, 50, 200}

func benchManagerLoad(b *testing.B, table *benchTable) {
	r, counter := countingRunner(b)
	require.NoError(b, runTrivial(context.Background(), r), "a first job, so that the Runner is warm")
	for _, n := range burstSizes {
		got := runBurst(b, r, &counter.requestCounter, n)
		table.add(got.requestRows(b, n)...)
		switch n {
		case 50:
			table.add(throughputRows(b, got)...)
		case 200:
			table.add(got.bigBurstRows(b)...)
		}
	}
	b.Logf("requests of kind other, all bursts: %s", counter.otherRequests())
	removeCLILeftovers()
}

// burst is what n trivial jobs run at once through one Runner came to.
type burst struct {
	n        int
	makespan time.Duration
	requests requestCounts
	ok       int // jobs that exited 0 with the right output
	errs     []error
	peakFDs  int
}

// runBurst runs n trivial jobs at once through r, whose requests counter
// counts, sampling the process's open file descriptors meanwhile.
func runBurst(b *testing.B, r *oneshot.Runner, counter *requestCounter, n int) burst {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	got := burst{n: n}
	stopSampling := sampleFDs(10 * time.Millisecond)
	before := counter.snapshot()
	var mu sync.Mutex
	got.makespan, _ = timed(func() error {
		return inParallel(n, func(int) error {
			err := runTrivial(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				got.errs = append(got.errs, err)
			} else {
				got.ok++
			}
			return nil
		})
	})
	got.requests = counter.snapshot().minus(before)
	got.peakFDs = stopSampling()
	for _, err := range got.errs[:min(len(got.errs), 3)] {
		b.Logf("%d jobs at once: %v", n, err)
	}
	return got
}

// runTrivial runs the trivial job through r and checks its output.
func runTrivial(ctx context.Context, r *oneshot.Runner) error {
	res, err := r.Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: trivialJob}, oneshot.WithLabel(benchLabel, "true"))
	if err == nil && string(res.Stdout) != "hello\n" {
		err = fmt.Errorf("the job printed %q", res.Stdout)
	}
	return err
}

// requestRows are the burst's requests: per job, apart from the shared
// poll (the task and node lists one Runner reads for all its jobs, its one
// event stream and the read of its own node as it opens, and its presence,
// which holds the leases of its long jobs), and the task polls and all
// requests per second. A
// burst of trivial jobs is all state changes, when the poll may be fast:
// its rate is reported, the steady rows hold the rate's goals. For a
// single job, the peer is the same job run with the docker CLI, its
// requests counted.
func (g burst) requestRows(b *testing.B, n int) []benchRow {
	perJob := float64(n)
	apart := g.requests
	apart[kindTaskPoll], apart[kindNodeList], apart[kindEvents], apart[kindInfo], apart[kindPresence] = 0, 0, 0, 0, 0
	beyondPoll := float64(apart.total()) / perJob
	perJobExtra := float64(g.requests[kindPing]+g.requests[kindInspect]) / perJob
	polls := float64(g.requests[kindTaskPoll]) / g.makespan.Seconds()
	rows := []benchRow{
		{
			what:    fmt.Sprintf("%d trivial job(s) at once: requests per job apart from the shared poll", n),
			oneshot: fmt.Sprintf("%s (%s)", twoPlaces(beyondPoll), apart.breakdown(perJob)),
			goal:    &benchGoal{text: "≤4, no per-job _ping or inspect", met: beyondPoll <= 4 && perJobExtra < 0.1},
		},
		{
			what: fmt.Sprintf("%d trivial job(s) at once: task polls/s and requests/s over the makespan (all state changes)", n),
			oneshot: fmt.Sprintf("%s polls/s, %s req/s (%d requests in %s; per job: %s; the Runner's own: info %d, presence %d)", twoPlaces(polls),
				twoPlaces(float64(g.requests.total())/g.makespan.Seconds()), g.requests.total(), secs(g.makespan), twoPlaces(float64(g.requests.total())/perJob),
				g.requests[kindInfo], g.requests[kindPresence]),
		},
	}
	if n == 1 {
		cli, took := countCLIJob(b)
		rows[0].peer = fmt.Sprintf("CLI job: %d (%s)", cli.total(), cli.breakdown(1))
		rows[1].peer = fmt.Sprintf("CLI job: %s req/s (%d requests in %s)", twoPlaces(float64(cli.total())/took.Seconds()), cli.total(), secs(took))
		rows[1].ratio = fmt.Sprintf("%.2fx the requests", float64(g.requests.total())/float64(cli.total()))
	}
	return rows
}

// countCLIJob runs the trivial job with the docker CLI through a counting
// proxy and returns its requests and how long it took.
func countCLIJob(b *testing.B) (requestCounts, time.Duration) {
	proxy := startCountingProxy(b)
	took, err := timed(func() error { return cliTrivialJob(proxy.host) })
	require.NoError(b, err)
	return proxy.snapshot(), took
}

// throughputRows time 50 CLI jobs and 50 `docker run`s at once against
// the burst of 50 oneshot jobs.
func throughputRows(b *testing.B, g burst) []benchRow {
	cli, err := timed(func() error { return inParallel(g.n, func(int) error { return cliTrivialJob("") }) })
	require.NoError(b, err, "%d CLI jobs at once", g.n)
	run, err := timed(func() error { return inParallel(g.n, func(int) error { return dockerRun() }) })
	require.NoError(b, err, "%d docker runs at once", g.n)
	what := fmt.Sprintf("%d trivial jobs at once from one Runner, makespan (%d/%d ok)", g.n, g.ok, g.n)
	return []benchRow{
		{what: what, oneshot: secs(g.makespan), peer: fmt.Sprintf("%d CLI jobs at once: %s", g.n, secs(cli)),
			ratio: times(g.makespan, cli), goal: atMost(g.makespan.Seconds()/cli.Seconds(), 0.45, "≤0.45x the CLI")},
		{what: what, oneshot: secs(g.makespan), peer: fmt.Sprintf("%d `docker run --rm` at once: %s", g.n, secs(run)),
			ratio: times(g.makespan, run), goal: atMost(g.makespan.Seconds()/run.Seconds(), 1.5, "≤1.5x docker run")},
	}
}

// bigBurstRows say how the burst of 200 went: makespan, successes, what it
// left on the swarm, the process's peak of open file descriptors.
func (g burst) bigBurstRows(b *testing.B) []benchRow {
	services, containers := benchLeftovers(b)
	return []benchRow{
		{what: fmt.Sprintf("%d trivial jobs at once from one Runner: succeeded with the right output; makespan", g.n),
			oneshot: fmt.Sprintf("%d/%d in %s", g.ok, g.n, secs(g.makespan)),
			goal:    &benchGoal{text: "all", met: g.ok == g.n}},
		{what: fmt.Sprintf("%d trivial jobs at once: left behind (services, containers)", g.n),
			oneshot: fmt.Sprintf("%d, %d", services, containers),
			goal:    &benchGoal{text: "0, 0", met: services == 0 && containers == 0}},
		{what: fmt.Sprintf("%d trivial jobs at once: peak open file descriptors of the process", g.n),
			oneshot: fmt.Sprint(g.peakFDs)},
	}
}

// benchLeftovers counts the services of the benchmark's jobs left on the
// swarm, and their containers once the swarm has had 15 s to remove them;
// it removes what it finds.
func benchLeftovers(b testing.TB) (services, containers int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := localDocker(b)
	byLabel := make(client.Filters).Add("label", benchLabel)
	list, err := cli.ServiceList(ctx, client.ServiceListOptions{Filters: byLabel})
	require.NoError(b, err)
	for _, s := range list.Items {
		_, _ = cli.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{})
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		left, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: byLabel})
		require.NoError(b, err)
		if containers = len(left.Items); containers == 0 || time.Now().After(deadline) {
			return len(list.Items), containers
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sampleFDs counts the process's open file descriptors every period until
// stop is called, which returns the largest count seen.
func sampleFDs(period time.Duration) (stop func() int) {
	done, peak := make(chan struct{}), make(chan int)
	go func() {
		most := 0
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			fds, _ := openFDs()
			most = max(most, fds)
			select {
			case <-done:
				peak <- most
				return
			case <-tick.C:
			}
		}
	}()
	return func() int {
		close(done)
		return <-peak
	}
}

// openFDs counts the process's open file descriptors, and how many of them
// are sockets (connections, open or idle, and listeners).
func openFDs() (fds, sockets int) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, 0
	}
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if errors.Is(err, os.ErrNotExist) {
			continue // closed since the listing
		}
		fds++
		if strings.HasPrefix(target, "socket:") {
			sockets++
		}
	}
	return fds, sockets
}
