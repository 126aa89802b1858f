package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// migrateRun runs `migrate MODE` against the test's database and returns
// its stdout, stderr and exit code.
func migrateRun(t *testing.T, ctx context.Context, mode, network, db, secret, dir string) (string, string, int) {
	t.Helper()
	return runProgram(t, exec.CommandContext(ctx, exampleBinary(t, "../examples/migrate"), mode,
		"--network", network, "--db-service", db, "--password-secret", secret, "--dir", dir))
}

func TestMigrateOnARealPostgres(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
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

	dir := t.TempDir()
	for _, f := range []string{"0001_create_users.sql", "0002_add_email.sql"} {
		data, err := os.ReadFile(filepath.Join("../examples/migrate/sql", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}

	stdout, stderr, code := migrateRun(t, ctx, "up", name, name, name, dir)
	require.Equal(t, 0, code, "first up: %s%s", stdout, stderr)
	assert.Contains(t, stdout, "applied 0001_create_users.sql")
	assert.Contains(t, stdout, "applied 0002_add_email.sql")
	assert.Contains(t, stdout, "2 migration(s) applied")

	stdout, stderr, code = migrateRun(t, ctx, "up", name, name, name, dir)
	require.Equal(t, 0, code, "second up: %s%s", stdout, stderr)
	assert.Contains(t, stdout, "0 migration(s) applied, 2 already there")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "0003_broken.sql"), []byte("ALTER TABLE users ADD COLUMN age int;\nALTER TABLE users ADD COLUMN age int;\n"), 0o644))
	stdout, stderr, code = migrateRun(t, ctx, "up", name, name, name, dir)
	assert.Equal(t, 1, code, "a broken migration fails: %s%s", stdout, stderr)
	assert.Contains(t, stderr, "migration 0003_broken.sql failed")
	assert.Contains(t, stderr, `column "age" of relation "users" already exists`)

	stdout, stderr, code = migrateRun(t, ctx, "status", name, name, name, dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "applied  0001_create_users.sql")
	assert.Contains(t, stdout, "applied  0002_add_email.sql")
	assert.Contains(t, stdout, "pending  0003_broken.sql", "the broken migration left nothing behind")
	assert.NotContains(t, stdout+stderr, "password")

	configs, err := cli.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", "oneshot-migrate=true")})
	require.NoError(t, err)
	assert.Empty(t, configs.Items, "migrate removes the configs it made")
}
