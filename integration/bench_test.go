package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// The benchmarks run the same trivial job (print a line, exit 0) through
// oneshot, through the docker CLI as a swarm job (create --detach=false,
// logs, rm: the same work as a Run that returns the output) and through
// `docker run --rm` (no swarm), interleaved in each iteration so that all
// three see the same machine, and report each one's seconds per job and
// oneshot's ratio to the others. Run them with `make bench`.

var trivialJob = []string{"echo", "hello"}

func BenchmarkTrivialJob(b *testing.B) {
	r := localRunner(b)
	ctx := context.Background()
	var tOneshot, tCLI, tDockerRun time.Duration
	for b.Loop() {
		tOneshot += timed(b, func() error {
			_, err := r.Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: trivialJob})
			return err
		})
		tCLI += timed(b, cliSwarmJob)
		tDockerRun += timed(b, dockerRun)
	}
	report(b, tOneshot, tCLI, tDockerRun, 1)
	removeCLILeftovers()
}

func BenchmarkTwentyJobsAtOnce(b *testing.B) {
	const n = 20
	counter := &countingTransport{}
	r := countingRunner(b, counter)
	ctx := context.Background()
	var tOneshot, tCLI, tDockerRun time.Duration
	requestsBefore := counter.n.Load()
	for b.Loop() {
		tOneshot += timed(b, func() error {
			return inParallel(n, func() error {
				_, err := r.Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: trivialJob})
				return err
			})
		})
		tCLI += timed(b, func() error { return inParallel(n, cliSwarmJob) })
		tDockerRun += timed(b, func() error { return inParallel(n, dockerRun) })
	}
	report(b, tOneshot, tCLI, tDockerRun, 1)
	b.ReportMetric(float64(counter.n.Load()-requestsBefore)/float64(b.N*n), "requests/job")
	removeCLILeftovers()
}

// fiftyTasks is how many trivial tasks BenchmarkFiftyTasks runs each way.
const fiftyTasks = 50

// BenchmarkFiftyTasks runs 50 trivial tasks (print a line, exit 0) three
// ways in each iteration, one after the other: (a) one job of 50 tasks,
// all at once (WithTasks, WithParallelism 50), through one Runner; (b) 50
// jobs of one task at once through one Runner; (c) with the docker CLI, a
// replicated job of 50 replicas, 50 at once (service create
// --detach=false, service logs, service rm). It reports each one's wall
// time and the requests it sent to the engine (the Runners' through their
// counting transports, the CLI's through a counting proxy it is pointed
// at with DOCKER_HOST), and the ratios of (a) and (b) to (c).
func BenchmarkFiftyTasks(b *testing.B) {
	const n = fiftyTasks
	tasksCounter, jobsCounter := &countingTransport{}, &countingTransport{}
	tasksRunner, jobsRunner := countingRunner(b, tasksCounter), countingRunner(b, jobsCounter)
	proxy := startCountingProxy(b)
	ctx := context.Background()
	var tTasks, tJobs, tCLI time.Duration
	var rTasks, rJobs, rCLI int64
	counted := func(counter *atomic.Int64, requests *int64, fn func() error) time.Duration {
		before := counter.Load()
		d := timed(b, fn)
		*requests += counter.Load() - before
		return d
	}
	for b.Loop() {
		tTasks += counted(&tasksCounter.n, &rTasks, func() error {
			res, err := tasksRunner.Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: trivialJob}, oneshot.WithTasks(n), oneshot.WithParallelism(n))
			if err != nil {
				return err
			}
			if len(res.Tasks) != n {
				return fmt.Errorf("%d task results, not %d", len(res.Tasks), n)
			}
			for _, task := range res.Tasks {
				if string(task.Stdout) != "hello\n" {
					return fmt.Errorf("task %d printed %q", task.Index, task.Stdout)
				}
			}
			return nil
		})
		tJobs += counted(&jobsCounter.n, &rJobs, func() error {
			return inParallel(n, func() error {
				res, err := jobsRunner.Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: trivialJob})
				if err == nil && string(res.Stdout) != "hello\n" {
					err = fmt.Errorf("the job printed %q", res.Stdout)
				}
				return err
			})
		})
		tCLI += counted(&proxy.n, &rCLI, func() error { return cliReplicatedJob(proxy.host, n, trivialJob, "hello") })
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	perOp := func(requests int64) float64 { return float64(requests) / float64(b.N) }
	b.ReportMetric(per(tTasks), "tasks-job-s/op")
	b.ReportMetric(per(tJobs), "one-task-jobs-s/op")
	b.ReportMetric(per(tCLI), "cli-job-s/op")
	b.ReportMetric(perOp(rTasks), "tasks-job-requests/op")
	b.ReportMetric(perOp(rJobs), "one-task-jobs-requests/op")
	b.ReportMetric(perOp(rCLI), "cli-job-requests/op")
	b.ReportMetric(tTasks.Seconds()/tCLI.Seconds(), "tasks-job-x-cli")
	b.ReportMetric(tJobs.Seconds()/tCLI.Seconds(), "one-task-jobs-x-cli")
	b.ReportMetric(float64(rTasks)/float64(rCLI), "tasks-job-requests-x-cli")
	b.ReportMetric(float64(rJobs)/float64(rCLI), "one-task-jobs-requests-x-cli")
	removeCLILeftovers()
}

// cliReplicatedJob runs args as a replicated job of n replicas, n at once,
// with the docker CLI talking to the engine at host (create
// --detach=false, logs, rm), and checks that each replica printed want.
// The service is removed even when reading its logs fails.
func cliReplicatedJob(host string, n int, args []string, want string) error {
	docker := func(args ...string) *exec.Cmd {
		cmd := exec.Command("docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
		return cmd
	}
	out, createErr := docker(append([]string{"service", "create", "--quiet", "--mode", "replicated-job",
		"--replicas", fmt.Sprint(n), "--max-concurrent", fmt.Sprint(n), "--restart-condition", "none", "--detach=false", jobkitImage}, args...)...).Output()
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return errors.Join(createErr, errors.New("docker service create printed no service ID"))
	}
	id := lines[len(lines)-1]
	cliLeftovers.Store(id, true)
	var logsErr error
	if createErr == nil {
		var logs []byte
		if logs, logsErr = docker("service", "logs", "--raw", id).Output(); logsErr == nil {
			if got := strings.Count(string(logs), want+"\n"); got != n {
				logsErr = fmt.Errorf("docker service logs: %d lines %q, not %d: %q", got, want, n, logs)
			}
		}
	}
	rmErr := docker("service", "rm", id).Run()
	return errors.Join(createErr, logsErr, rmErr)
}

// countingProxy is an HTTP proxy on a unix socket in front of the local
// engine's that counts the requests it forwards: point a docker CLI at it
// with DOCKER_HOST=host.
type countingProxy struct {
	host string
	n    atomic.Int64
}

func startCountingProxy(b *testing.B) *countingProxy {
	dir, err := os.MkdirTemp("", "oneshot-proxy")
	require.NoError(b, err)
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(b, err)
	engine := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", "/var/run/docker.sock")
	}}
	forward := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "http", "docker", ""
		},
		Transport:     engine,
		FlushInterval: -1, // stream logs and progress as they come
	}
	p := &countingProxy{host: "unix://" + sock}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.n.Add(1)
		forward.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() {
		_ = srv.Close()
		engine.CloseIdleConnections()
		_ = os.RemoveAll(dir)
	})
	return p
}

func timed(b *testing.B, fn func() error) time.Duration {
	start := time.Now()
	require.NoError(b, fn())
	return time.Since(start)
}

func report(b *testing.B, tOneshot, tCLI, tDockerRun time.Duration, jobs int) {
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N*jobs) }
	b.ReportMetric(per(tOneshot), "oneshot-s/op")
	b.ReportMetric(per(tCLI), "cli-s/op")
	b.ReportMetric(per(tDockerRun), "docker-run-s/op")
	b.ReportMetric(tOneshot.Seconds()/tCLI.Seconds(), "x-cli")
	b.ReportMetric(tOneshot.Seconds()/tDockerRun.Seconds(), "x-docker-run")
}

func inParallel(n int, fn func() error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- fn()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// cliSwarmJob does with the docker CLI what Run does: a one-shot swarm job
// that is waited for, its logs read and the service removed.
func cliSwarmJob() error {
	_, err := cliSwarmJobRSS(trivialJob)
	return err
}

// cliLeftovers holds the CLI job services whose exited containers the swarm
// leaves behind (replicated-job tasks are never reaped: moby#42789); the
// benchmarks remove them once timed.
var cliLeftovers sync.Map

func removeCLILeftovers() {
	cliLeftovers.Range(func(id, _ any) bool {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.swarm.service.id="+id.(string)).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
		cliLeftovers.Delete(id)
		return true
	})
}

func dockerRun() error {
	_, err := peakRSS(exec.Command("docker", append([]string{"run", "--rm", jobkitImage}, trivialJob...)...))
	return err
}

// countingTransport counts the requests a Runner sends to the engine.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(req)
}

// countingRunner is a Runner on the local engine's socket whose requests
// are counted.
func countingRunner(b *testing.B, counter *countingTransport) *oneshot.Runner {
	counter.base = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", "/var/run/docker.sock")
	}}
	c, err := client.New(client.WithHost("unix:///var/run/docker.sock"), client.WithHTTPClient(&http.Client{Transport: counter}))
	require.NoError(b, err)
	r, err := oneshot.NewRunner(oneshot.WithClient(c))
	require.NoError(b, err)
	b.Cleanup(func() { _ = r.Close(); _ = c.Close() })
	return r
}

// largeOutputMiB is how much the job of BenchmarkLargeOutput writes to
// stdout: less than the engine's default log driver keeps on these machines
// (json-file, 10m times 3), so that the three move the same bytes.
const largeOutputMiB = 8

var largeOutputJob = []string{"spew", fmt.Sprint(largeOutputMiB)}

// BenchmarkLargeOutput runs a job that writes 8 MiB to stdout, its output
// sent to /dev/null, through oneshot's command line, the docker CLI as a
// swarm job and `docker run`, and reports each one's seconds and peak
// memory (the largest resident set of the processes it ran), and the bytes
// a Runner allocates for such a job in process when it keeps none of the
// output (OutputLimit -1).
func BenchmarkLargeOutput(b *testing.B) {
	bin := exampleBinary(b, "../examples/oneshot")
	r := localRunner(b)
	ctx := context.Background()
	var tOneshot, tCLI, tDockerRun time.Duration
	var rssOneshot, rssCLI, rssDockerRun int64
	var allocated uint64
	for b.Loop() {
		tOneshot += timed(b, func() error {
			rss, err := peakRSS(exec.Command(bin, append([]string{"run", "--quiet", jobkitImage}, largeOutputJob...)...))
			rssOneshot = max(rssOneshot, rss)
			return err
		})
		tCLI += timed(b, func() error {
			rss, err := cliSwarmJobRSS(largeOutputJob)
			rssCLI = max(rssCLI, rss)
			return err
		})
		tDockerRun += timed(b, func() error {
			rss, err := peakRSS(exec.Command("docker", append([]string{"run", "--rm", jobkitImage}, largeOutputJob...)...))
			rssDockerRun = max(rssDockerRun, rss)
			return err
		})
		allocated += allocatedBy(b, func() error {
			_, err := r.Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: largeOutputJob, Stdout: io.Discard, OutputLimit: -1})
			return err
		})
	}
	report(b, tOneshot, tCLI, tDockerRun, 1)
	const mib = 1 << 20
	b.ReportMetric(float64(rssOneshot)/mib, "oneshot-cli-peak-MiB")
	b.ReportMetric(float64(rssCLI)/mib, "docker-cli-peak-MiB")
	b.ReportMetric(float64(rssDockerRun)/mib, "docker-run-peak-MiB")
	b.ReportMetric(float64(allocated)/float64(b.N)/mib, "run-alloc-MiB/op")
	removeCLILeftovers()
}

// peakRSS runs cmd with its output sent to /dev/null and returns its
// largest resident set size, in bytes.
func peakRSS(cmd *exec.Cmd) (int64, error) {
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, nil
	}
	return usage.Maxrss << 10, nil // Linux reports KiB
}

// cliSwarmJobRSS runs args as a swarm job through the docker CLI (create
// --detach=false, logs, rm) and returns the largest resident set of the
// three commands. The service is removed even when reading its logs fails.
func cliSwarmJobRSS(args []string) (int64, error) {
	create := exec.Command("docker", append([]string{"service", "create", "--quiet", "--mode", "replicated-job",
		"--restart-condition", "none", "--detach=false", jobkitImage}, args...)...)
	var out strings.Builder
	create.Stdout = &out
	rss, createErr := peakRSS(create)
	lines := strings.Fields(out.String())
	if len(lines) == 0 {
		return 0, errors.Join(createErr, errors.New("docker service create printed no service ID"))
	}
	id := lines[len(lines)-1]
	cliLeftovers.Store(id, true)
	var logs int64
	var logsErr error
	if createErr == nil {
		logs, logsErr = peakRSS(exec.Command("docker", "service", "logs", "--raw", id))
	}
	rm, rmErr := peakRSS(exec.Command("docker", "service", "rm", id))
	return max(rss, logs, rm), errors.Join(createErr, logsErr, rmErr)
}

// allocatedBy returns the bytes the process allocated while fn ran.
func allocatedBy(b *testing.B, fn func() error) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	require.NoError(b, fn())
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
