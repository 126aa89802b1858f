package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// runJob runs jobkit with args on the local swarm, labelled for the test.
func runJob(t *testing.T, ctx context.Context, args []string, opts ...oneshot.Option) (*oneshot.Result, error) {
	t.Helper()
	opts = append([]oneshot.Option{testLabel(t)}, opts...)
	return localRunner(t).Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: args}, opts...)
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestExitCodes(t *testing.T) {
	for _, code := range []int{0, 1, 3, 42, 255} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			requireNothingLeft(t)
			res, err := runJob(t, testContext(t, time.Minute), []string{"exit", fmt.Sprint(code)})
			require.NotNil(t, res)
			assert.Equal(t, code, res.ExitCode)
			if code == 0 {
				require.NoError(t, err)
				assert.Equal(t, oneshot.StateComplete, res.State)
				return
			}
			var exitErr *oneshot.ExitError
			require.ErrorAs(t, err, &exitErr)
			assert.Equal(t, code, exitErr.ExitCode())
			assert.Equal(t, oneshot.StateFailed, res.State)
			assert.NotEmpty(t, res.TaskID)
			assert.NotEmpty(t, res.NodeID)
			assert.Equal(t, 1, res.Attempts)
			assert.False(t, res.FinishedAt.Before(res.CreatedAt))
		})
	}
}

func TestEnvAndEnvFile(t *testing.T) {
	requireNothingLeft(t)
	envFile := filepath.Join(t.TempDir(), "job.env")
	require.NoError(t, os.WriteFile(envFile, []byte("# settings\nFROM_FILE=a b \"c\"\n\nPASSED_THROUGH\nUNSET_HERE\n"), 0o600))
	t.Setenv("PASSED_THROUGH", "from the caller")
	res, err := runJob(t, testContext(t, time.Minute), []string{"env", "FROM_OPTION", "FROM_FILE", "PASSED_THROUGH", "UNSET_HERE"},
		oneshot.WithEnv("FROM_OPTION", "x=y"), oneshot.WithEnvFile(envFile))
	require.NoError(t, err)
	assert.Equal(t, "FROM_OPTION=x=y\nFROM_FILE=a b \"c\"\nPASSED_THROUGH=from the caller\nUNSET_HERE=\n", string(res.Stdout))
}

func TestSecretAndConfig(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, time.Minute)
	cli := localDocker(t)
	name := "oneshot-test-" + strings.ToLower(randomSuffix())
	sec, err := cli.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name}, Data: []byte("s3cret")}})
	require.NoError(t, err)
	t.Cleanup(func() { removeSecretEventually(t, sec.ID) })
	cfg, err := cli.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name}, Data: []byte("key: value\n")}})
	require.NoError(t, err)
	t.Cleanup(func() { removeConfigEventually(t, cfg.ID) })

	res, err := runJob(t, ctx, []string{"cat", "/run/secrets/" + name, "/etc/app/custom-target", "/" + name},
		oneshot.WithSecret(name),
		oneshot.WithSecretRef(oneshot.SecretRef{Name: name, Target: "/etc/app/custom-target", UID: "1000", Mode: 0o400}),
		oneshot.WithConfig(name, ""))
	require.NoError(t, err)
	assert.Equal(t, "s3crets3cretkey: value\n", string(res.Stdout))
}

func TestNamedVolumeSharedByTwoJobs(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, time.Minute)
	volume := "oneshot-test-" + strings.ToLower(randomSuffix())
	t.Cleanup(func() { removeVolumeEventually(t, volume) })
	_, err := runJob(t, ctx, []string{"write", "/data/note", "written by the first job"}, oneshot.WithVolume(volume, "/data"))
	require.NoError(t, err)
	res, err := runJob(t, ctx, []string{"cat", "/data/note"}, oneshot.WithVolume(volume, "/data"))
	require.NoError(t, err)
	assert.Equal(t, "written by the first job", string(res.Stdout))
}

func TestBindMountAndTmpfs(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "input.txt"), []byte("from the host"), 0o644))
	res, err := runJob(t, testContext(t, time.Minute),
		[]string{"cat", "/in/input.txt", "--", "write", "/scratch/x", "tmp", "--", "cat", "/scratch/x", "--", "write", "/in/ro", "no"},
		oneshot.WithMount(oneshot.Mount{Type: oneshot.MountBind, Source: dir, Target: "/in", ReadOnly: true}),
		oneshot.WithTmpfs("/scratch"))
	var exitErr *oneshot.ExitError
	require.ErrorAs(t, err, &exitErr, "writing to a read-only bind mount must fail")
	assert.Equal(t, "from the hosttmp", string(res.Stdout))
	assert.Contains(t, string(res.Stderr), "read-only file system")
}

func TestOverlayNetworkReachesServiceThroughTasksName(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 2*time.Minute)
	cli := localDocker(t)
	name := "oneshot-test-" + strings.ToLower(randomSuffix())
	net, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "overlay", Attachable: true})
	require.NoError(t, err)
	t.Cleanup(func() { removeNetworkEventually(t, net.ID) })
	server := startService(t, ctx, swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name + "-web"},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: jobkitImage, Args: []string{"serve", ":8080", "/"}},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: net.ID}},
		},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	})
	waitServiceRunning(t, ctx, server)

	// The job may start before the server's DNS entry settles: retry a few times.
	res, err := runJob(t, ctx, []string{"fetch", "http://tasks." + name + "-web:8080/jobkit"},
		oneshot.WithNetwork(name, "the-job"), oneshot.WithOutputLimit(64), oneshot.WithRetries(5, 200*time.Millisecond))
	require.NoError(t, err)
	assert.Positive(t, res.StdoutDropped, "the job fetched the jobkit binary from the server")
}

func TestMissingImage(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	start := time.Now()
	res, err := localRunner(t).Run(testContext(t, time.Minute), oneshot.JobSpec{Image: "oneshot-no-such-image:v0"}, testLabel(t))
	require.ErrorIs(t, err, oneshot.ErrImageNotFound)
	var taskErr *oneshot.TaskError
	require.ErrorAs(t, err, &taskErr)
	assert.Equal(t, oneshot.StateRejected, taskErr.State)
	assert.Equal(t, -1, res.ExitCode)
	assert.Less(t, time.Since(start), 30*time.Second)
	t.Log(err)
}

func TestUnschedulableConstraint(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	res, err := runJob(t, testContext(t, time.Minute), []string{"exit", "0"},
		oneshot.WithConstraint("node.labels.oneshot-nowhere==true"), oneshot.WithScheduleTimeout(2*time.Second))
	require.ErrorIs(t, err, oneshot.ErrUnschedulable)
	var taskErr *oneshot.TaskError
	require.ErrorAs(t, err, &taskErr)
	assert.Equal(t, oneshot.StatePending, taskErr.State)
	assert.Contains(t, taskErr.Error(), "no suitable node", "the swarm's reason is kept")
	assert.Equal(t, -1, res.ExitCode)
}

// TestTimeoutStopsAndRemovesTheJob times a running job out: Run returns
// once it has stopped (SIGTERM: jobkit exits 143 at once), with what it
// printed, and its service is gone.
func TestTimeoutStopsAndRemovesTheJob(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	start := time.Now()
	res, err := runJob(t, testContext(t, time.Minute), []string{"echo", "started", "--", "sleep", "60s"}, oneshot.WithTimeout(6*time.Second))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, context.Canceled)
	var stopErr *oneshot.StopError
	require.ErrorAs(t, err, &stopErr)
	assert.Equal(t, "its timeout of 6s", stopErr.By)
	assert.False(t, stopErr.StillRunning)
	assert.Less(t, time.Since(start), 30*time.Second)
	require.NotNil(t, res)
	require.False(t, res.StartedAt.IsZero(), "6 s is long enough for the job to start, even on a busy machine")
	assert.Equal(t, 143, res.ExitCode, "the container's code after SIGTERM")
	assert.Equal(t, oneshot.StateShutdown, res.State)
	assert.Equal(t, "started\n", string(res.Stdout), "the output is kept")
	assert.Equal(t, "jobkit: stopped by terminated\n", string(res.Stderr), "what the job printed once stopped, too")
	gone, err := serviceGone(context.Background(), localDocker(t), res.ServiceID)
	require.NoError(t, err)
	assert.True(t, gone, "the job's service is removed")
}

func TestCancellationMidRun(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx, cancel := context.WithCancel(testContext(t, time.Minute))
	job, err := localRunner(t).Start(ctx, oneshot.JobSpec{Image: jobkitImage, Command: []string{"sleep", "60s"}}, testLabel(t),
		oneshot.WithStatusFunc(func(s oneshot.TaskStatus) {
			if s.State == oneshot.StateRunning {
				cancel()
			}
		}))
	require.NoError(t, err)
	start := time.Now()
	res, err := job.Wait(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	var stopErr *oneshot.StopError
	require.ErrorAs(t, err, &stopErr)
	assert.False(t, stopErr.StillRunning)
	assert.Less(t, time.Since(start), 30*time.Second)
	assert.Equal(t, oneshot.StateShutdown, res.State)
	assert.Equal(t, 143, res.ExitCode, "stopped by SIGTERM")
	assert.Equal(t, "jobkit: stopped by terminated\n", string(res.Stderr))
	_, err = job.Wait(ctx)
	require.Error(t, err, "a second Wait is refused")
}

func TestConcurrentJobs(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 3*time.Minute)
	err := inParallel(20, func(i int) error {
		res, err := runJob(t, ctx, []string{"echo", fmt.Sprint("job ", i), "--", "exit", fmt.Sprint(i % 4)})
		var exitErr *oneshot.ExitError
		switch {
		case res == nil:
			return err
		case i%4 != 0 && !errors.As(err, &exitErr):
			return fmt.Errorf("job %d: want an ExitError, got %v", i, err)
		case res.ExitCode != i%4 || string(res.Stdout) != fmt.Sprintf("job %d\n", i):
			return fmt.Errorf("job %d: exit %d, stdout %q", i, res.ExitCode, res.Stdout)
		}
		return nil
	})
	require.NoError(t, err)
}

func TestSpecErrorCreatesNothing(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, time.Minute)
	cases := map[string][]oneshot.Option{
		"relative bind target": {oneshot.WithBind("/tmp", "relative")},
		"unknown secret":       {oneshot.WithSecret("oneshot-no-such-secret")},
		"unknown config":       {oneshot.WithConfig("oneshot-no-such-config", "/x")},
		"unknown network":      {oneshot.WithNetwork("oneshot-no-such-network")},
		"local network":        {oneshot.WithNetwork("bridge")},
		"bad env":              {oneshot.WithEnv("A B", "x")},
		"negative timeout":     {oneshot.WithTimeout(-time.Second)},
	}
	for name, opts := range cases {
		res, err := runJob(t, ctx, []string{"exit", "0"}, opts...)
		var specErr *oneshot.SpecError
		assert.ErrorAs(t, err, &specErr, name)
		assert.Nil(t, res, name)
		t.Logf("%s: %v", name, err)
	}
}

func TestPruneRemovesFinishedKeptJobs(t *testing.T) {
	requireNothingLeft(t)
	ctx := testContext(t, time.Minute)
	r := localRunner(t)
	res, err := runJob(t, ctx, []string{"exit", "0"}, oneshot.WithKeep())
	require.NoError(t, err)
	running, err := r.Start(ctx, oneshot.JobSpec{Image: jobkitImage, Command: []string{"sleep", "60s"}}, testLabel(t), oneshot.WithKeep())
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = localDocker(t).ServiceRemove(context.Background(), running.ServiceID(), client.ServiceRemoveOptions{})
	})

	// Only this test's services: the machine's other kept jobs are not ours.
	mine := oneshot.PruneLabel(testLabelPair(t))
	dry, err := r.Prune(ctx, mine, oneshot.PruneDryRun())
	require.NoError(t, err)
	assert.Contains(t, prunedIDs(dry), res.ServiceID)
	_, err = localDocker(t).ServiceInspect(ctx, res.ServiceID, client.ServiceInspectOptions{})
	require.NoError(t, err, "a dry run removes nothing")

	none, err := r.Prune(ctx, mine, oneshot.PruneOlderThan(time.Hour))
	require.NoError(t, err)
	assert.NotContains(t, prunedIDs(none), res.ServiceID, "too young to prune")

	pruned, err := r.Prune(ctx, mine)
	require.NoError(t, err)
	assert.Equal(t, []string{res.ServiceID}, prunedIDs(pruned), "only the finished job; a job in flight is never pruned")
	_, err = localDocker(t).ServiceInspect(ctx, res.ServiceID, client.ServiceInspectOptions{})
	require.Error(t, err, "the finished job's service is gone")
}

func prunedIDs(list []oneshot.PrunedService) []string {
	var ids []string
	for _, p := range list {
		ids = append(ids, p.ID)
	}
	return ids
}
