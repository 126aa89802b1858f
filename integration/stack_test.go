package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// The "docker stack run" of oneshot: jobs made from a service of a stack
// deployed with `docker stack deploy` (examples/migrate/stack), on the
// local single-node swarm.

// stackFile is the example stack: db (Postgres) and app (migrate-job serve)
// on the overlay network backend, the password as the secret db-password,
// the migrations as configs.
const stackFile = "../examples/migrate/stack/compose.yaml"

// shopStack is a deployment of stackFile for one test.
type shopStack struct {
	// name is the stack's name, unique per test run.
	name string
	// env is the environment that deploys it: DB_PASSWORD_FILE names the
	// password's file.
	env []string
}

// service is the swarm name of the stack's service: STACK_SERVICE.
func (s shopStack) service(name string) string { return s.name + "_" + name }

// deployShopStack deploys stackFile as a stack of a unique name, with a
// random password, and removes it, its networks, secrets and configs when
// the test ends, whatever happened. It returns once both services have a
// running task; the database may still be initialising.
func deployShopStack(t *testing.T, ctx context.Context) shopStack {
	t.Helper()
	pwFile := filepath.Join(t.TempDir(), "db-password")
	require.NoError(t, os.WriteFile(pwFile, []byte(randomSuffix()+randomSuffix()+"\n"), 0o600))
	stack := shopStack{name: "oneshot-test-shop-" + randomSuffix(), env: append(os.Environ(), "DB_PASSWORD_FILE="+pwFile)}
	t.Cleanup(func() { removeStack(t, stack.name) })

	start := time.Now()
	stdout, stderr, code := runProgram(t, stack.docker(ctx, "stack", "deploy", "-c", stackFile, stack.name))
	require.Equal(t, 0, code, "docker stack deploy: %s%s", stdout, stderr)
	t.Logf("docker stack deploy took %s: %s%s", time.Since(start).Round(time.Millisecond), stdout, stderr)
	for _, svc := range []string{"db", "app"} {
		waitStackTaskRunning(t, ctx, stack.service(svc))
	}
	return stack
}

// docker is the docker CLI with args, in the stack's environment.
func (s shopStack) docker(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = s.env
	return cmd
}

// waitStackTaskRunning waits up to 3 minutes until a task of the service
// runs (the first deployment on a loaded machine is slow).
func waitStackTaskRunning(t *testing.T, ctx context.Context, service string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		tasks, err := localDocker(t).TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", service)})
		require.NoError(c, err)
		require.True(c, slices.ContainsFunc(tasks.Items, func(task swarm.Task) bool { return task.Status.State == swarm.TaskStateRunning }),
			"a running task of %s", service)
	}, 3*time.Minute, 200*time.Millisecond)
}

// stackObjects lists the names of what the stack's namespace label marks:
// services, networks, secrets and configs.
func stackObjects(t *testing.T, ctx context.Context, stack string) []string {
	t.Helper()
	cli := localDocker(t)
	f := make(client.Filters).Add("label", oneshot.LabelStackNamespace+"="+stack)
	var names []string
	services, err := cli.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	require.NoError(t, err)
	for _, s := range services.Items {
		names = append(names, "service "+s.Spec.Name)
	}
	networks, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	require.NoError(t, err)
	for _, n := range networks.Items {
		names = append(names, "network "+n.Name)
	}
	secrets, err := cli.SecretList(ctx, client.SecretListOptions{Filters: f})
	require.NoError(t, err)
	for _, s := range secrets.Items {
		names = append(names, "secret "+s.Spec.Name)
	}
	configs, err := cli.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	require.NoError(t, err)
	for _, c := range configs.Items {
		names = append(names, "config "+c.Spec.Name)
	}
	return names
}

// removeStack removes the stack with `docker stack rm` and waits until its
// services, networks, secrets and configs are gone. `docker stack rm` may
// leave a network whose containers are still being removed: it is run again
// until nothing is left. Jobs made from the stack's services that a failed
// test left running are removed first: they hold the stack's network.
func removeStack(t *testing.T, stack string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cli := localDocker(t)
	jobs, err := cli.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", oneshot.LabelFromService)})
	if assert.NoError(t, err) {
		for _, s := range jobs.Items {
			if strings.HasPrefix(s.Spec.Labels[oneshot.LabelFromService], stack+"_") {
				t.Logf("removing the job %s of %s", s.Spec.Name, s.Spec.Labels[oneshot.LabelFromService])
				_, _ = cli.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{})
			}
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, _ := exec.CommandContext(ctx, "docker", "stack", "rm", stack).CombinedOutput()
		left := stackObjects(t, ctx, stack)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the stack %s is not removed: %v left; docker stack rm said: %s", stack, left, out)
			return
		}
		time.Sleep(time.Second) // poll: the swarm frees the networks once the containers are gone
	}
}

// stackTasks lists the IDs of the tasks of the stack's services, and their
// states, sorted by ID.
func stackTasks(t *testing.T, ctx context.Context, stack string) []string {
	t.Helper()
	cli := localDocker(t)
	services, err := cli.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", oneshot.LabelStackNamespace+"="+stack)})
	require.NoError(t, err)
	var tasks []string
	for _, s := range services.Items {
		list, err := cli.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", s.ID)})
		require.NoError(t, err)
		for _, task := range list.Items {
			tasks = append(tasks, s.Spec.Name+" "+task.ID+" "+string(task.Status.State))
		}
	}
	slices.Sort(tasks)
	return tasks
}

// fromServiceJobs lists the services made from the service by oneshot:
// the jobs (running, or kept) of FromService and `oneshot stack run`.
func fromServiceJobs(t *testing.T, ctx context.Context, service string) []swarm.Service {
	t.Helper()
	list, err := localDocker(t).ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", oneshot.LabelFromService+"="+service)})
	require.NoError(t, err)
	return list.Items
}

// waitStackDatabase runs `status` as the app service until it succeeds:
// the database then accepts connections with the stack's password.
func waitStackDatabase(t *testing.T, ctx context.Context, stack shopStack) {
	t.Helper()
	runner := localRunner(t)
	deadline := time.Now().Add(4 * time.Minute)
	for attempt := 1; ; attempt++ {
		spec, err := runner.FromService(ctx, stack.service("app"))
		require.NoError(t, err)
		res, err := runner.Run(ctx, spec, oneshot.WithCommand("status", "-connect-timeout", "30s"), testLabel(t))
		if err == nil {
			t.Logf("the database accepts connections (attempt %d)", attempt)
			return
		}
		var exitErr *oneshot.ExitError
		require.ErrorAs(t, err, &exitErr, "status as %s", stack.service("app"))
		require.False(t, time.Now().After(deadline), "the database does not accept connections: %s%s", res.Stdout, res.Stderr)
	}
}

func TestStackRun(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 12*time.Minute)
	start := time.Now()
	stack := deployShopStack(t, ctx)
	app := stack.service("app")
	waitStackDatabase(t, ctx, stack)
	before := stackTasks(t, ctx, stack.name)
	t.Logf("stack %s ready after %s; its tasks: %v", stack.name, time.Since(start).Round(time.Millisecond), before)

	// run and stackRun are `oneshot run` and `oneshot stack run` with the
	// test's label (see requireNothingLeft), in the stack's environment.
	label := testLabelPair(t)
	cli := func(args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, cliBinary(t), args...)
		cmd.Env = stack.env
		return cmd
	}
	run := func(args ...string) *exec.Cmd { return cli(append([]string{"run", "--label", label}, args...)...) }
	stackRun := func(args ...string) *exec.Cmd {
		return cli(append([]string{"stack", "run", "--label", label}, args...)...)
	}
	labelled := func() []swarm.Service {
		list, err := localDocker(t).ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", label)})
		require.NoError(t, err)
		return list.Items
	}

	t.Run("stack run up, then status", func(t *testing.T) {
		stdout, stderr, code := runProgram(t, stackRun(stack.name, "app", "up"))
		require.Equal(t, 0, code, "%s%s", stdout, stderr)
		assert.Contains(t, stdout, "applied 0001_create_users.sql")
		assert.Contains(t, stdout, "applied 0002_add_email.sql")
		assert.Contains(t, stdout, "2 migration(s) applied, 0 already there")
		assert.Empty(t, stderr)

		stdout, stderr, code = runProgram(t, stackRun(stack.name, "app", "status"))
		require.Equal(t, 0, code, "%s%s", stdout, stderr)
		assert.Equal(t, "applied  0001_create_users.sql\napplied  0002_add_email.sql\n", stdout)
	})

	t.Run("the app sees the migrations", func(t *testing.T) {
		// The stack's own app, reached by its name on the stack's network.
		stdout, stderr, code := runProgram(t, run("--network", stack.name+"_backend", jobkitImage, "fetch", "http://app:8080/version"))
		require.Equal(t, 0, code, "%s%s", stdout, stderr)
		assert.JSONEq(t, `{"count":2,"latest":2,"applied":[{"version":1,"name":"create_users"},{"version":2,"name":"add_email"}]}`, stdout)
	})

	t.Run("FromService", func(t *testing.T) {
		requireNothingLeft(t)
		runner := localRunner(t)
		spec, err := runner.FromService(ctx, app)
		require.NoError(t, err)
		assert.Equal(t, "oneshot-migrate-job:dev", strings.SplitN(spec.Image, "@", 2)[0])
		assert.Equal(t, []string{"serve"}, spec.Command)
		assert.Subset(t, spec.Env, []string{"DB_HOST=db", "DB_PASSWORD_FILE=/run/secrets/db-password"})
		res, err := runner.Run(ctx, spec, oneshot.WithCommand("status"), testLabel(t), oneshot.WithKeep())
		if res != nil && res.ServiceID != "" {
			t.Cleanup(func() {
				_, _ = localDocker(t).ServiceRemove(context.Background(), res.ServiceID, client.ServiceRemoveOptions{})
			})
		}
		require.NoError(t, err)
		assert.Equal(t, "applied  0001_create_users.sql\napplied  0002_add_email.sql\n", string(res.Stdout))

		got, err := localDocker(t).ServiceInspect(ctx, res.ServiceID, client.ServiceInspectOptions{})
		require.NoError(t, err)
		job := got.Service.Spec
		assert.Equal(t, app, job.Labels[oneshot.LabelFromService])
		assert.NotContains(t, job.Labels, oneshot.LabelStackNamespace, "a job of the stack's service is no service of the stack")
		assert.NotContains(t, job.TaskTemplate.ContainerSpec.Labels, oneshot.LabelStackNamespace)
		network, err := localDocker(t).NetworkInspect(ctx, stack.name+"_backend", client.NetworkInspectOptions{})
		require.NoError(t, err)
		require.Len(t, job.TaskTemplate.Networks, 1)
		assert.Equal(t, network.Network.ID, job.TaskTemplate.Networks[0].Target)
		assert.Empty(t, job.TaskTemplate.Networks[0].Aliases, "the job does not answer for the service")
		var secrets, configs []string
		for _, s := range job.TaskTemplate.ContainerSpec.Secrets {
			secrets = append(secrets, s.SecretName+" "+s.File.Name)
		}
		for _, c := range job.TaskTemplate.ContainerSpec.Configs {
			configs = append(configs, c.ConfigName+" "+c.File.Name)
		}
		assert.Equal(t, []string{stack.name + "_db-password db-password"}, secrets)
		assert.ElementsMatch(t, []string{stack.name + "_migration-0001 /migrations/0001_create_users.sql", stack.name + "_migration-0002 /migrations/0002_add_email.sql"}, configs)

		_, err = localDocker(t).ServiceRemove(ctx, res.ServiceID, client.ServiceRemoveOptions{})
		require.NoError(t, err)
	})

	t.Run("run --from-service and run --compose", func(t *testing.T) {
		stdout, stderr, code := runProgram(t, run("--from-service", app, "status"))
		require.Equal(t, 0, code, "%s%s", stdout, stderr)
		assert.Equal(t, "applied  0001_create_users.sql\napplied  0002_add_email.sql\n", stdout)

		stdout, stderr, code = runProgram(t, run("--compose", stackFile, "--stack", stack.name, "--service", "app", "status"))
		require.Equal(t, 0, code, "%s%s", stdout, stderr)
		assert.Equal(t, "applied  0001_create_users.sql\napplied  0002_add_email.sql\n", stdout)
	})

	t.Run("a missing service", func(t *testing.T) {
		stdout, stderr, code := runProgram(t, stackRun(stack.name, "nosuch", "status"))
		assert.Equal(t, 125, code, "%s%s", stdout, stderr)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "service not found")
		assert.Contains(t, stderr, stack.service("nosuch"))
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %s", stderr)

		stdout, stderr, code = runProgram(t, run("--compose", stackFile, "--stack", stack.name, "--service", "nosuch", "status"))
		assert.Equal(t, 125, code, "%s%s", stdout, stderr)
		assert.Contains(t, stderr, "nosuch")

		_, err := localRunner(t).FromService(ctx, stack.service("nosuch"))
		assert.ErrorIs(t, err, oneshot.ErrServiceNotFound)
		assert.Empty(t, fromServiceJobs(t, ctx, stack.service("nosuch")), "nothing created")
		assert.Empty(t, labelled(), "nothing created")
	})

	assert.Equal(t, before, stackTasks(t, ctx, stack.name), "the stack's services are untouched: the same tasks, no new one")
	assert.Empty(t, fromServiceJobs(t, ctx, app), "every job's service is removed")

	t.Run("a re-deploy with --prune leaves a running job alone", func(t *testing.T) {
		testStackRedeployDuringJob(t, ctx, stack, stackRun)
	})

	assert.Equal(t, before, stackTasks(t, ctx, stack.name), "a re-deploy of the same file leaves the stack's tasks alone")
	assert.Empty(t, fromServiceJobs(t, ctx, app), "every job's service is removed")
	out, err := exec.CommandContext(ctx, "docker", "service", "ls", "--filter", "label="+oneshot.LabelFromService+"="+app, "--format", "{{.Name}}").Output()
	require.NoError(t, err)
	assert.Empty(t, strings.TrimSpace(string(out)), "docker service ls shows no job of %s", app)
	t.Logf("TestStackRun took %s", time.Since(start).Round(time.Millisecond))
}

// testStackRedeployDuringJob re-deploys the stack's file with --prune while
// a long job made from the app service runs: the job is no service of the
// stack, so the re-deploy leaves it alone and it ends with its own result.
func testStackRedeployDuringJob(t *testing.T, ctx context.Context, stack shopStack, stackRun func(...string) *exec.Cmd) {
	const sleep = "25s"
	cmd := stackRun(stack.name, "app", "sleep", sleep)
	var stdout, stderr cliBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "sleeping for "+sleep) }, 3*time.Minute, 50*time.Millisecond,
		"the job runs: %s%s", stdout.String(), stderr.String())
	jobs := fromServiceJobs(t, ctx, stack.service("app"))
	require.Len(t, jobs, 1)

	start := time.Now()
	out, stderrDeploy, code := runProgram(t, stack.docker(ctx, "stack", "deploy", "--prune", "-c", stackFile, stack.name))
	require.Equal(t, 0, code, "docker stack deploy --prune: %s%s", out, stderrDeploy)
	t.Logf("docker stack deploy --prune took %s: %s%s", time.Since(start).Round(time.Millisecond), out, stderrDeploy)
	select {
	case err := <-done:
		t.Fatalf("the job ended before the re-deploy was over, which tests nothing (%v): %s%s", err, stdout.String(), stderr.String())
	default:
	}
	after := fromServiceJobs(t, ctx, stack.service("app"))
	require.Len(t, after, 1, "the job's service is still there")
	assert.Equal(t, jobs[0].ID, after[0].ID)

	select {
	case err := <-done:
		require.NoError(t, err, "the job ends with its own result: %s%s", stdout.String(), stderr.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("the job did not end: %s%s", stdout.String(), stderr.String())
	}
	assert.Equal(t, "sleeping for "+sleep+"\nslept "+sleep+"\n", stdout.String())
	assert.Empty(t, stderr.String())
}
