package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// The peers oneshot is measured against: the docker CLI running the same
// work as a swarm job, and `docker run --rm` (no swarm at all).

// trivialJob is the trivial job: print a line, exit 0.
var trivialJob = []string{"echo", "hello"}

// cliSwarmJob is a one-shot swarm job run with the docker CLI, the same work as
// a Run that returns the output: service create --mode replicated-job
// --restart-condition none --detach=false, service logs, service rm.
type cliSwarmJob struct {
	host  string   // DOCKER_HOST for the CLI; empty: its default
	flags []string // more flags for service create
	args  []string // the job's command
	logs  io.Writer
}

// run runs the job and returns the largest resident set of the three
// commands. The service is removed even when reading its logs fails.
func (j cliSwarmJob) run() (int64, error) {
	create := j.docker(slices.Concat([]string{"service", "create", "--quiet", "--mode", "replicated-job",
		"--restart-condition", "none", "--detach=false"}, j.flags, []string{jobkitImage}, j.args)...)
	var out strings.Builder
	create.Stdout = &out
	rss, createErr := peakRSS(create)
	lines := strings.Fields(out.String())
	if len(lines) == 0 {
		return 0, errors.Join(createErr, errors.New("docker service create printed no service ID"))
	}
	id := lines[len(lines)-1]
	cliLeftovers.Store(id, true)
	var logsRSS int64
	var logsErr error
	if createErr == nil {
		logs := j.docker("service", "logs", "--raw", id)
		logs.Stdout, logs.Stderr = j.logs, j.logs
		logsRSS, logsErr = peakRSS(logs)
	}
	rmRSS, rmErr := peakRSS(j.docker("service", "rm", id))
	return max(rss, logsRSS, rmRSS), errors.Join(createErr, logsErr, rmErr)
}

func (j cliSwarmJob) docker(args ...string) *exec.Cmd {
	cmd := exec.Command("docker", args...)
	if j.host != "" {
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+j.host)
	}
	return cmd
}

// cliTrivialJob runs the trivial job as a CLI swarm job through host (""
// for the CLI's default) and checks what it printed.
func cliTrivialJob(host string) error {
	var logs bytes.Buffer
	if _, err := (cliSwarmJob{host: host, args: trivialJob, logs: &logs}).run(); err != nil {
		return err
	}
	if logs.String() != "hello\n" {
		return fmt.Errorf("docker service logs printed %q", logs.String())
	}
	return nil
}

// dockerRun runs the trivial job with `docker run --rm` and checks what it
// printed.
func dockerRun() error {
	out, err := exec.Command("docker", slices.Concat([]string{"run", "--rm", jobkitImage}, trivialJob)...).Output()
	if err == nil && string(out) != "hello\n" {
		err = fmt.Errorf("docker run printed %q", out)
	}
	return err
}

// cliLeftovers holds the CLI job services whose exited containers the swarm
// leaves behind (replicated-job tasks are never reaped on Docker 20.10:
// moby#42789); removeCLILeftovers removes them once timed.
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

// peakRSS runs cmd (its output discarded unless set) and returns its
// largest resident set size, in bytes: the largest VmHWM of its /proc
// status, sampled every 10 ms. The rusage wait4 reports would not do: Go
// starts a child with vfork, sharing the test process's memory until the
// exec, and Linux then counts that memory's high-water mark as the child's
// ru_maxrss (a child of a test process of 400 MiB "peaked" at 400 MiB).
func peakRSS(cmd *exec.Cmd) (int64, error) {
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	stop, peak := make(chan struct{}), make(chan int64)
	go func() {
		var most int64
		for {
			most = max(most, highWaterRSS(cmd.Process.Pid))
			select {
			case <-stop:
				peak <- most
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	rss := <-peak
	if err != nil {
		return rss, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return rss, nil
}

// highWaterRSS is the largest resident set the process pid has had so far
// (VmHWM), in bytes; 0 once it has exited.
func highWaterRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kib int64
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kib); err == nil {
			return kib << 10
		}
	}
	return 0
}

// timed runs fn and returns how long it took.
func timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

// medianDuration is the middle of ds (the mean of the two middle ones for
// an even count).
func medianDuration(ds []time.Duration) time.Duration {
	return durationPercentile(ds, 50)
}

// durationPercentile is the p-th percentile of ds, interpolated between ranks.
func durationPercentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := p / 100 * float64(len(s)-1)
	lo := int(rank)
	if lo+1 >= len(s) {
		return s[lo]
	}
	return s[lo] + time.Duration((rank-float64(lo))*float64(s[lo+1]-s[lo]))
}
