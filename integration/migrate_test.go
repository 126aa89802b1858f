package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// migrateCommand is `migrate MODE` against the test's database, each of
// whose network, password secret and service is named db.
func migrateCommand(t *testing.T, ctx context.Context, mode, db, dir string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{mode, "--network", db, "--db-service", db, "--password-secret", db, "--dir", dir}, extra...)
	return exec.CommandContext(ctx, exampleBinary(t, "../examples/migrate"), args...)
}

// migrateRun runs `migrate MODE` against the test's database and returns
// its stdout, stderr and exit code.
func migrateRun(t *testing.T, ctx context.Context, mode, db, dir string, extra ...string) (string, string, int) {
	t.Helper()
	return runProgram(t, migrateCommand(t, ctx, mode, db, dir, extra...))
}

// startMigrateDatabase starts a Postgres service on an overlay network of
// its own, with its password in a secret, all three named after the test,
// and returns that name once the database runs.
func startMigrateDatabase(t *testing.T, ctx context.Context) string {
	t.Helper()
	cli := localDocker(t)
	name := "oneshot-test-db-" + randomSuffix()
	net, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "overlay", Attachable: true})
	require.NoError(t, err)
	t.Cleanup(func() { removeNetworkEventually(t, net.ID) })
	secret, err := cli.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name}, Data: []byte(randomSuffix() + randomSuffix())}})
	require.NoError(t, err)
	t.Cleanup(func() { removeSecretEventually(t, secret.ID) })
	db := startService(t, ctx, swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "oneshot-postgres:15", Secrets: []*swarm.SecretReference{{SecretID: secret.ID, SecretName: name,
				File: &swarm.SecretReferenceFileTarget{Name: "postgres-password", UID: "0", GID: "0", Mode: 0o444}}}},
			Networks: []swarm.NetworkAttachmentConfig{{Target: net.ID}},
		},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	})
	waitServiceRunning(t, ctx, db)
	return name
}

func TestMigrateOnARealPostgres(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
	db := startMigrateDatabase(t, ctx)
	dir := t.TempDir()
	for _, f := range []string{"0001_create_users.sql", "0002_add_email.sql"} {
		data, err := os.ReadFile(filepath.Join("../examples/migrate/sql", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}

	stdout, stderr, code := migrateRun(t, ctx, "up", db, dir)
	require.Equal(t, 0, code, "first up: %s%s", stdout, stderr)
	assert.Contains(t, stdout, "applied 0001_create_users.sql")
	assert.Contains(t, stdout, "applied 0002_add_email.sql")
	assert.Contains(t, stdout, "2 migration(s) applied")
	assert.Empty(t, stderr, "no error, no warning")

	stdout, stderr, code = migrateRun(t, ctx, "up", db, dir)
	require.Equal(t, 0, code, "second up: %s%s", stdout, stderr)
	assert.Contains(t, stdout, "0 migration(s) applied, 2 already there")

	broken := filepath.Join(dir, "0003_broken.sql")
	require.NoError(t, os.WriteFile(broken, []byte("ALTER TABLE users ADD COLUMN age int;\nALTER TABLE users ADD COLUMN age int;\n"), 0o644))
	stdout, stderr, code = migrateRun(t, ctx, "up", db, dir)
	assert.Equal(t, 1, code, "a broken migration fails with the job's own code: %s%s", stdout, stderr)
	assert.Contains(t, stderr, "migration 0003_broken.sql failed")
	assert.Contains(t, stderr, `column "age" of relation "users" already exists`)

	// A migration that takes long, stopped by the timeout and by Ctrl-C.
	require.NoError(t, os.Remove(broken))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "0003_slow.sql"), []byte("SELECT pg_sleep(20);\n"), 0o644))
	t.Run("timeout", func(t *testing.T) { testMigrateTimeout(t, ctx, db, dir) })
	t.Run("Ctrl-C", func(t *testing.T) { testMigrateCtrlC(t, ctx, db, dir) })

	// The stopped runs' database sessions end with their sleep: status waits
	// for their lock.
	stdout, stderr, code = migrateRun(t, ctx, "status", db, dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "applied  0001_create_users.sql")
	assert.Contains(t, stdout, "applied  0002_add_email.sql")
	assert.Contains(t, stdout, "pending  0003_slow.sql", "the stopped migration was not committed")
	assert.NotContains(t, stdout+stderr, "password")

	// The SQL files went to each job as configs made for it (WithConfigData),
	// which carry the job's labels: none is left.
	configs, err := localDocker(t).ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", "oneshot-migrate="+db)})
	require.NoError(t, err)
	assert.Empty(t, configs.Items, "every job's configs went with it")
}

// testMigrateTimeout runs the slow migration with a timeout: migrate exits
// 124, says so, and leaves no job service.
func testMigrateTimeout(t *testing.T, ctx context.Context, db, dir string) {
	stdout, stderr, code := migrateRun(t, ctx, "up", db, dir, "--timeout", "8s")
	t.Logf("migrate exited %d: %s", code, strings.TrimSpace(stderr))
	assert.Equal(t, 124, code, "%s%s", stdout, stderr)
	assert.Regexp(t, `(?m)^oneshot: job oneshot-\w+ stopped: its timeout of 8s expired`, stderr)
	assert.Empty(t, migrateJobServices(t, ctx, db), "the job's service is removed")
}

// testMigrateCtrlC interrupts migrate once its job runs: migrate exits 130,
// says so, and leaves no job service.
func testMigrateCtrlC(t *testing.T, ctx context.Context, db, dir string) {
	cmd := migrateCommand(t, ctx, "up", db, dir)
	var stdout, stderr cliBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var job string
	cliAwait(t, "the migration job's service", func() bool {
		services := migrateJobServices(t, ctx, db)
		if len(services) > 0 {
			job = services[0].ID
		}
		return job != ""
	})
	waitServiceRunning(t, ctx, job)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("migrate did not exit within 60 s of SIGINT")
	}
	t.Logf("migrate exited after SIGINT: %v: %s", err, strings.TrimSpace(stderr.String()))
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "%s%s", stdout.String(), stderr.String())
	assert.Equal(t, 130, exitErr.ExitCode(), "%s%s", stdout.String(), stderr.String())
	assert.Regexp(t, `(?m)^oneshot: job oneshot-\w+ stopped: .*interrupted by SIGINT`, stderr.String())
	assert.False(t, strings.Contains(stderr.String(), "warning"), stderr.String())
	assert.Empty(t, migrateJobServices(t, ctx, db), "the job's service is removed")
}

// migrateJobServices lists the migration job services of the database.
func migrateJobServices(t *testing.T, ctx context.Context, db string) []swarm.Service {
	t.Helper()
	list, err := localDocker(t).ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "oneshot-migrate="+db)})
	require.NoError(t, err)
	return list.Items
}
