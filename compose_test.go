package oneshot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The compose files FromCompose reads in these tests are in testdata/compose.

func composeFixture(name string) string {
	return filepath.Join("testdata", "compose", name)
}

// unsetenv unsets key for the test, and sets it back after.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	require.NoError(t, os.Unsetenv(key))
}

// requireSourceError returns err as a *SourceError about file, with a
// problem and a fix.
func requireSourceError(t *testing.T, err error, file string) *SourceError {
	t.Helper()
	var srcErr *SourceError
	require.ErrorAs(t, err, &srcErr)
	assert.Equal(t, file, srcErr.Source)
	assert.NotEmpty(t, srcErr.Problem)
	assert.NotEmpty(t, srcErr.Fix, srcErr.Error())
	return srcErr
}

func TestFromComposeTakesWhatTheTaskRunsWith(t *testing.T) {
	unsetenv(t, "SHOP_LOG_LEVEL")
	spec, err := FromCompose(composeFixture("stack.yml"), "shop", "web")
	require.NoError(t, err)

	assert.Equal(t, "registry.example.com/shop/web:1.4.2", spec.Image, "build is ignored when there is an image")
	assert.Equal(t, []string{"/docker-entrypoint.sh"}, spec.Entrypoint)
	assert.Equal(t, []string{"gunicorn", "shop.wsgi", "--bind", "0.0.0.0:8000"}, spec.Command)
	assert.Equal(t, []string{
		"DJANGO_SETTINGS_MODULE=shop.settings.production",
		"EMPTY=",
		"LOG_LEVEL=info",        // environment wins over env_file
		`SHOP_FEATURE="quoted"`, // env files are read as docker reads them: values taken literally
		"WEB_CONCURRENCY=4",
	}, spec.Env)
	assert.Equal(t, "1000:1000", spec.User)
	assert.Equal(t, "/srv/shop", spec.Workdir)
	assert.Equal(t, []NetworkAttachment{{Name: "shop_backend"}, {Name: "shop_frontend"}}, spec.Networks, "without the service's aliases")
	assert.Equal(t, []SecretRef{{Name: "shop_db_password", Target: "db-pass", UID: "1000", GID: "1000", Mode: 0o400}}, spec.Secrets)
	assert.Equal(t, []ConfigRef{
		{Name: "shop_nginx_conf", Target: "/nginx_conf", UID: "0", GID: "0", Mode: 0o444},
		{Name: "shop_shop_settings", Target: "/etc/shop/settings.toml", UID: "0", GID: "0", Mode: 0o440},
	}, spec.Configs)
	dir, err := filepath.Abs(composeFixture(""))
	require.NoError(t, err)
	assert.Equal(t, []Mount{
		{Type: MountVolume, Source: "shop_media", Target: "/srv/shop/media",
			VolumeDriver: "local", VolumeDriverOptions: map[string]string{"type": "nfs", "o": "addr=10.0.0.5,rw", "device": ":/exports/media"},
			VolumeLabels: map[string]string{"com.example.backup": "daily", LabelStackNamespace: "shop"}},
		{Type: MountBind, Source: filepath.Join(dir, "static"), Target: "/srv/shop/static", ReadOnly: true},
		{Type: MountTmpfs, Target: "/tmp", TmpfsSize: 64 << 20},
		{Type: MountVolume, Target: "/srv/shop/cache"},
	}, spec.Mounts)
	assert.Equal(t, []string{"node.role == worker", "node.labels.tier == app"}, spec.Constraints)
	assert.Equal(t, []string{"spread=node.labels.zone"}, spec.PlacementPreferences)
	assert.Equal(t, Resources{CPULimit: 1.1, MemoryLimit: 512 << 20, CPUReservation: 0.25, MemoryReservation: 128 << 20}, spec.Resources)
	assert.Equal(t, int64(1_100_000_000), nanoCPUs(spec.Resources.CPULimit), "the CPUs as written, not as a float32 holds them")
	assert.Equal(t, LogDriver{Name: "json-file", Options: map[string]string{"max-size": "10m", "max-file": "3"}}, spec.LogDriver)
	assert.Equal(t, 90*time.Second, spec.StopGracePeriod)
	assert.Equal(t, map[string]string{"com.example.team": "shop", "traefik.enable": "true"}, spec.Labels,
		"deploy.labels and labels, without the stack's and oneshot's")
	assert.Equal(t, "shop_web", spec.fromService)
	assert.Empty(t, spec.Name, "a job has a name of its own")
	require.NoError(t, spec.Validate())
}

func TestFromComposeLeavesTheServiceBehaviourOut(t *testing.T) {
	spec, err := FromCompose(composeFixture("stack.yml"), "shop", "web")
	require.NoError(t, err)

	ids := swarmIDs{networks: map[string]string{"shop_backend": "n1", "shop_frontend": "n2"}}
	got := spec.serviceSpec("job", ids, specCreated)
	assert.Equal(t, uint64(1), *got.Mode.Replicated.Replicas, "one task, whatever the service's replicas")
	assert.Nil(t, got.EndpointSpec, "no published ports")
	assert.Nil(t, got.UpdateConfig)
	assert.Nil(t, got.RollbackConfig)
	assert.Nil(t, got.TaskTemplate.ContainerSpec.Healthcheck)
	assert.Equal(t, swarm.RestartPolicyConditionNone, got.TaskTemplate.RestartPolicy.Condition, "the service's restart policy is not the job's")
	for _, labels := range []map[string]string{got.Labels, got.TaskTemplate.ContainerSpec.Labels} {
		assert.NotContains(t, labels, LabelStackNamespace, "docker stack deploy --prune would remove the job")
		assert.Equal(t, "shop_web", labels[LabelFromService])
		assert.Equal(t, "true", labels[LabelManaged])
	}
	for _, n := range got.TaskTemplate.Networks {
		assert.Empty(t, n.Aliases, "the job does not answer for the service")
	}
}

func TestFromComposeOtherServicesOfTheStack(t *testing.T) {
	cases := []struct {
		service string
		check   func(t *testing.T, spec JobSpec)
	}{
		{"db", func(t *testing.T, spec JobSpec) {
			assert.Equal(t, []SecretRef{{Name: "shop_db_password", Target: "db_password", UID: "0", GID: "0", Mode: 0o444}}, spec.Secrets,
				"at /run/secrets/SOURCE by default")
			assert.Equal(t, []Mount{{Type: MountVolume, Source: "shop_pgdata", Target: "/var/lib/postgresql/data",
				VolumeLabels: map[string]string{LabelStackNamespace: "shop"}}}, spec.Mounts)
			assert.Equal(t, []NetworkAttachment{{Name: "shop_backend"}}, spec.Networks)
		}},
		{"worker", func(t *testing.T, spec JobSpec) {
			assert.Equal(t, []NetworkAttachment{{Name: "shop_default"}}, spec.Networks, "a service that lists no networks is on STACK_default")
			assert.Equal(t, LogDriver{}, spec.LogDriver, "the engine cannot serve fluentd's logs")
			assert.Nil(t, spec.Entrypoint, "the image's own entrypoint")
			assert.Nil(t, spec.Env)
			assert.Nil(t, spec.Labels)
			assert.Nil(t, spec.Secrets)
			assert.Nil(t, spec.Mounts)
			assert.Zero(t, spec.Resources)
		}},
		{"shell", func(t *testing.T, spec JobSpec) {
			assert.Equal(t, []string{"python", "manage.py", "shell"}, spec.Command, "a service of a profile is there all the same")
			assert.Equal(t, []NetworkAttachment{{Name: "shop_backend"}}, spec.Networks)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.service, func(t *testing.T) {
			spec, err := FromCompose(composeFixture("stack.yml"), "shop", tc.service)
			require.NoError(t, err)
			tc.check(t, spec)
			assert.Equal(t, "shop_"+tc.service, spec.fromService)
			require.NoError(t, spec.Validate())
		})
	}
}

func TestFromComposeNamesAsDockerStackDeploy(t *testing.T) {
	spec, err := FromCompose(composeFixture("names.yml"), "Prod", "app")
	require.NoError(t, err)

	assert.Equal(t, []NetworkAttachment{{Name: "Prod_default"}, {Name: "edge"}, {Name: "platform-net"}, {Name: "shared"}}, spec.Networks,
		"scoped in the stack name's own case, external, external with a name, named; sorted")
	assert.Equal(t, []SecretRef{
		{Name: "api_key", Target: "api_key", UID: "0", GID: "0", Mode: 0o444},
		{Name: "legacy-token-v2", Target: "legacy_token", UID: "0", GID: "0", Mode: 0o444},
		{Name: "tls-cert-2024", Target: "tls_cert", UID: "0", GID: "0", Mode: 0o444},
	}, spec.Secrets, "the default target is the source's name, not the secret's")
	assert.Equal(t, []ConfigRef{
		{Name: "app_conf", Target: "/etc/app.conf", UID: "0", GID: "0", Mode: 0o444},
		{Name: "proxy-conf-v3", Target: "/proxy_conf", UID: "0", GID: "0", Mode: 0o444},
	}, spec.Configs, "a relative target is from /, the default is /SOURCE")
	stackLabel := map[string]string{LabelStackNamespace: "Prod"}
	assert.Equal(t, []Mount{
		{Type: MountVolume, Source: "cache", Target: "/cache"},
		{Type: MountVolume, Source: "shared-uploads", Target: "/uploads", VolumeDriver: "rexray", VolumeLabels: stackLabel},
		{Type: MountVolume, Source: "Prod_scratch", Target: "/scratch", NoCopy: true, VolumeLabels: stackLabel},
	}, spec.Mounts, "an external volume is used as it is")
	assert.Equal(t, "Prod_app", spec.fromService)
	require.NoError(t, spec.Validate())

	lonely, err := FromCompose(composeFixture("names.yml"), "Prod", "lonely")
	require.NoError(t, err)
	assert.Equal(t, []NetworkAttachment{{Name: "Prod_default"}}, lonely.Networks)
}

// The stack of testdata/services was deployed with docker stack deploy, and
// its services captured as the engine holds them: FromCompose must make from
// the file what FromService makes from the deployed service.
func TestFromComposeAgreesWithTheDeployedStack(t *testing.T) {
	for _, service := range []string{"app", "worker"} {
		t.Run(service, func(t *testing.T) {
			deployed, err := specFromService(capturedService(t, service+".json").Spec, capturedNetworkNames(t))
			require.NoError(t, err)
			fromFile, err := FromCompose(filepath.Join("testdata", "services", "compose.yaml"), "fx", service)
			require.NoError(t, err)
			if fromFile.StopGracePeriod == 0 {
				assert.Equal(t, 10*time.Second, deployed.StopGracePeriod, "the engine writes its default in the spec")
				deployed.StopGracePeriod = 0
			}
			assert.Equal(t, deployed, fromFile)
		})
	}
}

func TestFromComposeInterpolatesFromTheEnvironment(t *testing.T) {
	t.Setenv("ONESHOT_TEST_GREETING", "hello")
	t.Setenv("ONESHOT_TEST_DATABASE_URL", "postgres://db/shop")
	t.Setenv("ONESHOT_TEST_PASSED_THROUGH", "from the process")
	unsetenv(t, "ONESHOT_TEST_TAG")
	unsetenv(t, "ONESHOT_TEST_NOT_SET")

	spec, err := FromCompose(composeFixture("interpolation.yml"), "s", "app")
	require.NoError(t, err)
	assert.Equal(t, "alpine:3.20", spec.Image, "the default of ${VAR:-default}")
	assert.Equal(t, []string{"echo", "hello"}, spec.Command)
	assert.Equal(t, []string{
		"DATABASE_URL=postgres://db/shop",
		"ONESHOT_TEST_PASSED_THROUGH=from the process",
		"PRICE=$5",
	}, spec.Env, "a variable without a value takes the process's, or is left out")

	t.Setenv("ONESHOT_TEST_TAG", "3.21")
	spec, err = FromCompose(composeFixture("interpolation.yml"), "s", "app")
	require.NoError(t, err)
	assert.Equal(t, "alpine:3.21", spec.Image)
}

func TestFromComposeRequiredVariable(t *testing.T) {
	file := composeFixture("required.yml")
	unsetenv(t, "ONESHOT_TEST_DATABASE_URL")
	_, err := FromCompose(file, "s", "app")
	srcErr := requireSourceError(t, err, file)
	assert.Equal(t, "services.app.environment.DATABASE_URL", srcErr.Key)
	assert.Contains(t, srcErr.Error(), "ONESHOT_TEST_DATABASE_URL")
	assert.Contains(t, srcErr.Error(), "set it to the database's URL", "the file's message")

	t.Setenv("ONESHOT_TEST_DATABASE_URL", "postgres://db/shop")
	spec, err := FromCompose(file, "s", "app")
	require.NoError(t, err)
	assert.Equal(t, []string{"DATABASE_URL=postgres://db/shop"}, spec.Env)
}

func TestFromComposeReadsNoDotEnvFile(t *testing.T) {
	unsetenv(t, "ONESHOT_TEST_DOTENV_TAG")
	unsetenv(t, "ONESHOT_TEST_DOTENV_VAR")
	require.FileExists(t, composeFixture(filepath.Join("dotenv", ".env")))

	spec, err := FromCompose(composeFixture(filepath.Join("dotenv", "compose.yml")), "s", "app")
	require.NoError(t, err)
	assert.Equal(t, "alpine:3.20", spec.Image, "not the .env file's tag")
	assert.Nil(t, spec.Env, "not the .env file's value")
}

func TestFromComposeServiceNotFound(t *testing.T) {
	file := composeFixture("stack.yml")
	_, err := FromCompose(file, "shop", "api")
	require.ErrorIs(t, err, ErrServiceNotFound)
	srcErr := requireSourceError(t, err, file)
	assert.Equal(t, "services.api", srcErr.Key)
	assert.Contains(t, srcErr.Fix, "db, shell, web, worker", "the services that are there")
}

func TestFromComposeRefusesWhatSwarmCannotRun(t *testing.T) {
	cases := []struct {
		service, key string
	}{
		{"build-only", "services.build-only.build"},
		{"waits-healthy", "services.waits-healthy.depends_on.db.condition"},
		{"waits-completed", "services.waits-completed.depends_on.migrate.condition"},
		{"host-network", "services.host-network.network_mode"},
		{"privileged", "services.privileged.privileged"},
		{"devices", "services.devices.devices"},
		{"pid", "services.pid.pid"},
		{"ipc", "services.ipc.ipc"},
		{"mem-limit", "services.mem-limit.mem_limit"},
		{"windows-bind", "services.windows-bind.volumes[0]"},
		{"npipe", "services.npipe.volumes[0]"},
		{"cluster", "services.cluster.volumes[1]"},
		{"subpath", "services.subpath.volumes[0].volume.subpath"},
	}
	file := composeFixture("unsupported.yml")
	for _, tc := range cases {
		t.Run(tc.service, func(t *testing.T) {
			_, err := FromCompose(file, "s", tc.service)
			srcErr := requireSourceError(t, err, file)
			assert.Equal(t, tc.key, srcErr.Key)
		})
	}
	for _, ok := range []string{"db", "migrate"} {
		spec, err := FromCompose(file, "s", ok)
		require.NoError(t, err, "the other services do not matter")
		require.NoError(t, spec.Validate())
	}
}

func TestFromComposeRefusesBadInput(t *testing.T) {
	cases := []struct {
		name, file, stack, key string
		is                     error
	}{
		{name: "a stack name with a dot", file: "stack.yml", stack: "my.stack"},
		{name: "a stack name starting with -", file: "stack.yml", stack: "-shop"},
		{name: "an empty stack name", file: "stack.yml", stack: ""},
		{name: "include", file: "include.yml", stack: "s", key: "include"},
		{name: "YAML that does not parse", file: "broken.yml", stack: "s"},
		{name: "a key compose does not know", file: "invalid.yml", stack: "s"},
		{name: "no such file", file: "missing.yml", stack: "s", is: fs.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := composeFixture(tc.file)
			_, err := FromCompose(file, tc.stack, "app")
			srcErr := requireSourceError(t, err, file)
			assert.Equal(t, tc.key, srcErr.Key)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestFromComposeOverriddenByOptions(t *testing.T) {
	spec, err := FromCompose(composeFixture("stack.yml"), "shop", "web")
	require.NoError(t, err)
	got, err := applyOptions(spec, []Option{WithCommand("manage.py", "migrate"), WithEnv("LOG_LEVEL", "debug")})
	require.NoError(t, err)
	assert.Equal(t, []string{"manage.py", "migrate"}, got.Command)
	assert.Contains(t, got.Env, "LOG_LEVEL=debug")
	assert.Equal(t, "shop_web", got.fromService, "kept through the options")
}

// With -race: the compose library keeps state of its own.
func TestFromComposeConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			_, err := FromCompose(composeFixture("stack.yml"), "shop", "web")
			assert.NoError(t, err)
		})
	}
	wg.Wait()
}

// FuzzFromCompose feeds FromCompose any file: it must return a JobSpec or
// a *SourceError, and never panic.
func FuzzFromCompose(f *testing.F) {
	seeds, err := filepath.Glob(composeFixture("*.yml"))
	require.NoError(f, err)
	seeds = append(seeds, composeFixture(filepath.Join("dotenv", "compose.yml")), filepath.Join("testdata", "services", "compose.yaml"))
	for _, seed := range seeds {
		content, err := os.ReadFile(seed)
		require.NoError(f, err)
		for _, service := range []string{"app", "web"} {
			f.Add(content, service)
		}
	}
	f.Fuzz(func(t *testing.T, content []byte, service string) {
		file := filepath.Join(t.TempDir(), "compose.yml")
		require.NoError(t, os.WriteFile(file, content, 0o600))
		_, err := FromCompose(file, "fuzz", service)
		var srcErr *SourceError
		if err != nil && !errors.As(err, &srcErr) {
			t.Fatalf("not a *SourceError: %v", err)
		}
	})
}

// TestFromComposeEnvironmentAsStackDeploy checks docker stack deploy's
// rules for the environment: env files in docker's format, environment
// over them, and empty or missing values from this process.
func TestFromComposeEnvironmentAsStackDeploy(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	write("a.env", "FROM_A=a\nOVERRIDDEN=by-a\nEMPTY_IN_FILE=\nBARE_SET\nBARE_UNSET\nQUOTED='x y'\n")
	write("b.env", "OVERRIDDEN=by-b\n")
	write("compose.yml", `version: "3.8"
services:
  job:
    image: alpine:3.20
    env_file: [a.env, b.env]
    environment:
      OVERRIDDEN: by-environment
      EMPTY_HERE: ""
      MISSING_HERE:
      MISSING_UNSET:
`)
	t.Setenv("EMPTY_IN_FILE", "from-process-1")
	t.Setenv("BARE_SET", "from-process-2")
	t.Setenv("EMPTY_HERE", "from-process-3")
	t.Setenv("MISSING_HERE", "from-process-4")
	unsetenv(t, "BARE_UNSET")
	unsetenv(t, "MISSING_UNSET")

	spec, err := FromCompose(filepath.Join(dir, "compose.yml"), "st", "job")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"BARE_SET=from-process-2",
		"EMPTY_HERE=from-process-3",
		"EMPTY_IN_FILE=from-process-1",
		"FROM_A=a",
		"MISSING_HERE=from-process-4",
		"OVERRIDDEN=by-environment",
		"QUOTED='x y'",
	}, spec.Env)

	write("compose.yml", "services:\n  job:\n    image: alpine:3.20\n    env_file: [nowhere.env]\n")
	_, err = FromCompose(filepath.Join(dir, "compose.yml"), "st", "job")
	var srcErr *SourceError
	require.ErrorAs(t, err, &srcErr)
	assert.Equal(t, "services.job.env_file[0]", srcErr.Key)
	assert.ErrorContains(t, err, "nowhere.env")
}
