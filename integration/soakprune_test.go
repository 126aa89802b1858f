package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// Prune under load: while a soak runs, another process (this test binary
// again, running TestSoakPruner) calls Prune in a loop on the soak's jobs,
// as a cron job of another team would, until its stdin is closed.

// The pruning process's environment: the label of the jobs it prunes,
// and the file it writes its report to.
const (
	soakPruneLabelEnv  = "ONESHOT_SOAK_PRUNE_LABEL"
	soakPruneReportEnv = "ONESHOT_SOAK_PRUNE_REPORT"
)

// soakPruneReady is the line the pruning process prints once its first
// Prune has returned.
const soakPruneReady = "soak-pruner: ready"

// soakPruneReport is what the pruning process did.
type soakPruneReport struct {
	// Calls counts the Prune calls, Failed those that returned an error,
	// FirstError the first error.
	Calls, Failed int
	FirstError    string
	// Pruned names the services it removed.
	Pruned []string
}

// TestSoakPruner is not a test of its own: the soak tests run it in a
// process of their own (soakPruneLabelEnv set), where it prunes the jobs
// of that label in a loop until its stdin is closed.
func TestSoakPruner(t *testing.T) {
	label := os.Getenv(soakPruneLabelEnv)
	if label == "" {
		t.Skip("run by the soak tests in a process of its own")
	}
	c, err := client.New(client.FromEnv)
	require.NoError(t, err)
	defer c.Close()
	r, err := oneshot.NewRunner(oneshot.WithClient(c))
	require.NoError(t, err)
	defer r.Close()
	report := pruneUntilClosed(r, label, os.Stdin, os.Stdout)
	data, err := json.Marshal(report)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(os.Getenv(soakPruneReportEnv), data, 0o600))
}

// pruneUntilClosed calls Prune in a loop until stdin is closed, and says
// on ready once the first call has returned.
func pruneUntilClosed(r *oneshot.Runner, label string, stdin io.Reader, ready io.Writer) soakPruneReport {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	var report soakPruneReport
	for ctx.Err() == nil {
		pruned, err := r.Prune(ctx, oneshot.PruneLabel(label))
		if ctx.Err() != nil {
			break // a call cut short by the end is no call
		}
		report.Calls++
		if err != nil {
			report.Failed++
			if report.FirstError == "" {
				report.FirstError = err.Error()
			}
		}
		for _, p := range pruned {
			report.Pruned = append(report.Pruned, p.Name)
		}
		if report.Calls == 1 {
			_, _ = io.WriteString(ready, soakPruneReady+"\n")
		}
	}
	return report
}

// soakPruner is the pruning process, seen from the soak.
type soakPruner struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	report string
	stderr bytes.Buffer
	// exited is closed once the process has exited, with waitErr.
	exited  chan struct{}
	waitErr error
}

// startSoakPruner starts the pruning process on the target's swarm and
// returns once it has made its first Prune call.
func startSoakPruner(t *testing.T, target *soakTarget) *soakPruner {
	t.Helper()
	p := &soakPruner{report: filepath.Join(t.TempDir(), "prune.json"), exited: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestSoakPruner$", "-test.count=1")
	p.cmd.Env = append(os.Environ(), soakPruneLabelEnv+"="+target.label, soakPruneReportEnv+"="+p.report)
	if target.dockerHost != "" {
		p.cmd.Env = append(p.cmd.Env, "DOCKER_HOST="+target.dockerHost, "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY=")
	}
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.stdin, err = p.cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	t.Cleanup(p.kill)
	ready := make(chan struct{})
	go p.watch(stdout, ready)
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("the pruning process exited before its first Prune: %v\n%s", p.waitErr, p.stderr.String())
	case <-time.After(time.Minute):
		p.kill()
		<-p.exited
		t.Fatalf("the pruning process made no Prune call within a minute\n%s", p.stderr.String())
	}
	return p
}

// watch reads the process's stdout, closing ready when it says so, and
// closes p.exited once the process has exited.
func (p *soakPruner) watch(stdout io.Reader, ready chan struct{}) {
	lines := bufio.NewScanner(stdout)
	said := false
	for lines.Scan() {
		if !said && lines.Text() == soakPruneReady {
			said = true
			close(ready)
		}
	}
	p.waitErr = p.cmd.Wait()
	close(p.exited)
}

// stop closes the process's stdin, waits for it to exit and returns its
// report.
func (p *soakPruner) stop(t *testing.T) soakPruneReport {
	t.Helper()
	require.NoError(t, p.stdin.Close())
	select {
	case <-p.exited:
		require.NoError(t, p.waitErr, "the pruning process failed:\n%s", p.stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("the pruning process did not exit within a minute of its stdin's close")
	}
	data, err := os.ReadFile(p.report)
	require.NoError(t, err, "the pruning process's report")
	var report soakPruneReport
	require.NoError(t, json.Unmarshal(data, &report))
	return report
}

// kill ends the process if it still runs (a test that failed early).
func (p *soakPruner) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
	}
}
