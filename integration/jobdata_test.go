package integration

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// Secrets and configs made for one job (WithSecretData, WithConfigData) on
// the local single-node swarm.

// dataOf lists the secrets and configs on the swarm made for the job
// owner, as "secret NAME" and "config NAME".
func dataOf(t *testing.T, owner string) []string {
	t.Helper()
	cli := localDocker(t)
	filters := make(client.Filters).Add("label", oneshot.LabelDataOwner+"="+owner)
	ctx := context.Background()
	secrets, err := cli.SecretList(ctx, client.SecretListOptions{Filters: filters})
	require.NoError(t, err)
	configs, err := cli.ConfigList(ctx, client.ConfigListOptions{Filters: filters})
	require.NoError(t, err)
	var out []string
	for _, s := range secrets.Items {
		out = append(out, "secret "+s.Spec.Name)
	}
	for _, c := range configs.Items {
		out = append(out, "config "+c.Spec.Name)
	}
	return out
}

// removeDataOf removes what a failed test left of a job's data.
func removeDataOf(t *testing.T, owner string) {
	cli := localDocker(t)
	filters := make(client.Filters).Add("label", oneshot.LabelDataOwner+"="+owner)
	ctx := context.Background()
	if secrets, err := cli.SecretList(ctx, client.SecretListOptions{Filters: filters}); err == nil {
		for _, s := range secrets.Items {
			removeSecretEventually(t, s.ID)
		}
	}
	if configs, err := cli.ConfigList(ctx, client.ConfigListOptions{Filters: filters}); err == nil {
		for _, c := range configs.Items {
			removeConfigEventually(t, c.ID)
		}
	}
}

// everyByte is a secret of every byte value, twice, and no final newline:
// read back whole, it is byte-exact.
var everyByte = func() []byte {
	var b []byte
	for range 2 {
		for i := range 256 {
			b = append(b, byte(i))
		}
	}
	return b
}()

// dataOptions are a binary secret at /run/secrets/blob, a secret in the
// long form at /etc/app/pw and a config at /etc/app/settings.yaml.
func dataOptions() []oneshot.Option {
	return []oneshot.Option{
		oneshot.WithSecretData("blob", everyByte),
		oneshot.WithSecretDataRef(oneshot.SecretData{Name: "pw", Target: "/etc/app/pw", UID: "1000", Mode: 0o400, Data: oneshot.NewSensitive([]byte("s3cret"))}),
		oneshot.WithConfigData("settings", "/etc/app/settings.yaml", []byte("mode: fast\n")),
	}
}

// TestJobDataIsReadBackByteExact reads the job's files back through its
// output, with the local log driver: the json-file driver stores each line
// as a JSON string and so replaces bytes that are not UTF-8 with U+FFFD
// (seen here on Docker 20.10).
func TestJobDataIsReadBackByteExact(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, time.Minute)
	seen := make(chan []string, 1)
	res, err := runJob(t, ctx, []string{"cat", "/run/secrets/blob", "/etc/app/pw", "/etc/app/settings.yaml"},
		append(dataOptions(), oneshot.WithLogDriver("local", nil), oneshot.WithStatusFunc(func(s oneshot.TaskStatus) {
			if s.State == oneshot.StateRunning {
				select {
				case seen <- dataOfRunning(t):
				default:
				}
			}
		}))...)
	require.NoError(t, err)
	t.Cleanup(func() { removeDataOf(t, res.ServiceName) })
	want := append(append(append([]byte(nil), everyByte...), "s3cret"...), "mode: fast\n"...)
	assert.True(t, bytes.Equal(want, res.Stdout), "byte-exact: got %q", res.Stdout)
	select {
	case running := <-seen:
		assert.Len(t, running, 3, "the data is on the swarm while the job runs")
	default:
	}
	requireDataGone(t, res.ServiceName)
}

// dataOfRunning lists the data made for jobs of the test's label.
func dataOfRunning(t *testing.T) []string {
	cli := localDocker(t)
	filters := make(client.Filters).Add("label", testLabelPair(t))
	secrets, err := cli.SecretList(context.Background(), client.SecretListOptions{Filters: filters})
	if err != nil {
		return nil
	}
	configs, err := cli.ConfigList(context.Background(), client.ConfigListOptions{Filters: filters})
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range secrets.Items {
		out = append(out, s.Spec.Name)
	}
	for _, c := range configs.Items {
		out = append(out, c.Spec.Name)
	}
	return out
}

// requireDataGone checks that no secret or config of the job owner is
// left once its Wait has returned.
func requireDataGone(t *testing.T, owner string) {
	t.Helper()
	require.NotEmpty(t, owner)
	assert.Empty(t, dataOf(t, owner), "the data of job %s is removed with it", owner)
}

func TestJobDataGoesWithTheJobOnEveryEnd(t *testing.T) {
	cases := []struct {
		name    string
		command []string
		opts    []oneshot.Option
		cancel  bool
		want    func(t *testing.T, res *oneshot.Result, err error)
	}{
		{name: "success", command: []string{"cat", "/etc/app/settings.yaml"}, want: func(t *testing.T, res *oneshot.Result, err error) {
			require.NoError(t, err)
			assert.Equal(t, "mode: fast\n", string(res.Stdout))
		}},
		{name: "non-zero exit", command: []string{"exit", "3"}, want: func(t *testing.T, res *oneshot.Result, err error) {
			var exitErr *oneshot.ExitError
			require.ErrorAs(t, err, &exitErr)
			assert.Equal(t, 3, res.ExitCode)
		}},
		{name: "cancel", command: []string{"sleep", "60s"}, cancel: true, want: func(t *testing.T, res *oneshot.Result, err error) {
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, 143, res.ExitCode)
		}},
		{name: "timeout", command: []string{"sleep", "60s"}, opts: []oneshot.Option{oneshot.WithTimeout(4 * time.Second)}, want: func(t *testing.T, _ *oneshot.Result, err error) {
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireNothingLeft(t)
			ctx, cancel := context.WithCancel(testContext(t, 2*time.Minute))
			opts := append(dataOptions(), tc.opts...)
			if tc.cancel {
				opts = append(opts, oneshot.WithStatusFunc(func(s oneshot.TaskStatus) {
					if s.State == oneshot.StateRunning {
						cancel()
					}
				}))
			}
			res, err := runJob(t, ctx, tc.command, opts...)
			cancel()
			require.NotNil(t, res, "%v", err)
			t.Cleanup(func() { removeDataOf(t, res.ServiceName) })
			tc.want(t, res, err)
			assert.NoError(t, res.CleanupErr)
			requireDataGone(t, res.ServiceName)
		})
	}
}

// TestJobDataOfACreateThatFails runs a job whose service the engine
// refuses (its name is taken): Start fails and its data is gone.
func TestJobDataOfACreateThatFails(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, time.Minute)
	name := "oneshot-test-taken-" + randomSuffix()
	startService(t, ctx, swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: jobkitImage, Args: []string{"sleep", "60s"}}}})
	t.Cleanup(func() { removeDataOf(t, name) })
	res, err := runJob(t, ctx, []string{"exit", "0"}, append(dataOptions(), oneshot.WithName(name))...)
	var specErr *oneshot.SpecError
	require.ErrorAs(t, err, &specErr)
	assert.Equal(t, "Name", specErr.Field)
	assert.Nil(t, res)
	assert.Empty(t, dataOf(t, name), "the data made for the start is removed")
}

func TestJobDataOfAJobOfSeveralTasks(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 2*time.Minute)
	res, err := runJob(t, ctx, []string{"cat", "/etc/app/pw", "/etc/app/settings.yaml"},
		append(dataOptions(), oneshot.WithTasks(3), oneshot.WithParallelism(1))...)
	require.NoError(t, err)
	t.Cleanup(func() { removeDataOf(t, res.ServiceName) })
	require.Len(t, res.Tasks, 3)
	for _, task := range res.Tasks {
		assert.Equal(t, "s3cretmode: fast\n", string(task.Stdout), "task %d", task.Index)
	}
	assert.Empty(t, dataOf(t, res.ServiceName), "removed after the last task's service")
}

// TestJobDataPrunedAfterItsRunnerDied leaves a kept job's service and data
// as a process that died after the job's end would (its Runner closed, the
// job kept), and lets Prune remove both.
func TestJobDataPrunedAfterItsRunnerDied(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, time.Minute)
	dead, err := oneshot.NewRunner(oneshot.WithClient(localDocker(t)))
	require.NoError(t, err)
	res, err := dead.Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: []string{"cat", "/run/secrets/blob"}},
		append(dataOptions(), testLabel(t), oneshot.WithKeep())...)
	require.NoError(t, err)
	require.NoError(t, dead.Close())
	t.Cleanup(func() { removeDataOf(t, res.ServiceName) })
	assert.Len(t, dataOf(t, res.ServiceName), 3, "kept with its service")

	mine := oneshot.PruneLabel(testLabelPair(t))
	_, err = localRunner(t).Prune(ctx, mine, oneshot.PruneDryRun())
	require.NoError(t, err)
	assert.Len(t, dataOf(t, res.ServiceName), 3, "a dry run removes nothing")
	pruned, err := localRunner(t).Prune(ctx, mine)
	require.NoError(t, err)
	assert.Equal(t, []string{res.ServiceID}, prunedIDs(pruned))
	assert.Empty(t, dataOf(t, res.ServiceName), "Prune removes the data with the service")
}

func TestJobDataSpecErrorsCreateNothing(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, time.Minute)
	for name, opts := range map[string][]oneshot.Option{
		"empty secret":             {oneshot.WithSecretData("pw", nil)},
		"config too large":         {oneshot.WithConfigData("c", "/c", make([]byte, oneshot.MaxConfigDataSize+1))},
		"relative config target":   {oneshot.WithConfigData("c", "etc/c", []byte("x"))},
		"unknown secret, and data": {oneshot.WithSecret("oneshot-no-such-secret"), oneshot.WithSecretData("pw", []byte("x"))},
	} {
		_, err := runJob(t, ctx, []string{"exit", "0"}, opts...)
		var specErr *oneshot.SpecError
		assert.ErrorAs(t, err, &specErr, name)
		t.Logf("%s: %v", name, err)
	}
	assert.Empty(t, dataOfRunning(t), "no data made")
}
