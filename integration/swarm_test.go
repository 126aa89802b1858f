package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomSuffix returns 8 random hex digits for unique names.
func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// startService creates a long-running service for a test (a server a job
// talks to) and removes it when the test ends.
func startService(t *testing.T, ctx context.Context, spec swarm.ServiceSpec) string {
	t.Helper()
	cli := localDocker(t)
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels["oneshot-test"] = testLabelValue(t)
	created, err := cli.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = cli.ServiceRemove(context.Background(), created.ID, client.ServiceRemoveOptions{}) })
	return created.ID
}

// waitServiceRunning waits until a task of the service is running.
func waitServiceRunning(t *testing.T, ctx context.Context, serviceID string) {
	t.Helper()
	cli := localDocker(t)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		tasks, err := cli.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", serviceID)})
		require.NoError(c, err)
		running := false
		for _, task := range tasks.Items {
			running = running || task.Status.State == swarm.TaskStateRunning
		}
		require.True(c, running, "a running task of service %s", serviceID)
	}, time.Minute, 100*time.Millisecond)
}

// removeEventually retries remove until it succeeds: the swarm releases a
// network, secret, config or volume a moment after the tasks that used it
// are gone.
func removeEventually(t *testing.T, what string, remove func(ctx context.Context) error) {
	t.Helper()
	require.Eventually(t, func() bool { return remove(context.Background()) == nil }, 30*time.Second, 200*time.Millisecond, "remove %s", what)
}

func removeNetworkEventually(t *testing.T, id string) {
	removeEventually(t, "network "+id, func(ctx context.Context) error {
		_, err := localDocker(t).NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
		return err
	})
}

func removeVolumeEventually(t *testing.T, name string) {
	removeEventually(t, "volume "+name, func(ctx context.Context) error {
		_, err := localDocker(t).VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
		return err
	})
}

func removeSecretEventually(t *testing.T, id string) {
	removeEventually(t, "secret "+id, func(ctx context.Context) error {
		_, err := localDocker(t).SecretRemove(ctx, id, client.SecretRemoveOptions{})
		return err
	})
}

func removeConfigEventually(t *testing.T, id string) {
	removeEventually(t, "config "+id, func(ctx context.Context) error {
		_, err := localDocker(t).ConfigRemove(ctx, id, client.ConfigRemoveOptions{})
		return err
	})
}

// runProgram runs cmd and returns its stdout, stderr and exit code.
func runProgram(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return stdout.String(), stderr.String(), exitErr.ExitCode()
	}
	require.NoError(t, err)
	return stdout.String(), stderr.String(), 0
}

// builtBinary is an example program built once per test run.
type builtBinary struct {
	once sync.Once
	path string
	err  error
}

var builtBinaries sync.Map // package path -> *builtBinary

// exampleBinary builds the example program in pkg (e.g. "../examples/crawl")
// once per test run and returns its path.
func exampleBinary(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := builtBinaries.LoadOrStore(pkg, &builtBinary{})
	b := v.(*builtBinary)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "oneshot-example")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		if out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	require.NoError(t, b.err)
	return b.path
}
