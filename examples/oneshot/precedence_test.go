package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// webService is the JobSpec that FromService makes of a stack's web
// service, fresh for each case (options change the spec in place).
func webService() oneshot.JobSpec {
	return oneshot.JobSpec{
		Image:      "registry.example.com/app:v2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Entrypoint: []string{"/entry.sh"},
		Command:    []string{"gunicorn", "app:app"},
		Env:        []string{"A=service", "B=service"},
		User:       "app",
		Workdir:    "/srv",
		Labels:     map[string]string{"team": "web", "tier": "front"},
		Networks:   []oneshot.NetworkAttachment{{Name: "app_backend"}, {Name: "app_frontend"}},
		Mounts: []oneshot.Mount{
			{Type: oneshot.MountVolume, Source: "app_data", Target: "/data"},
			{Type: oneshot.MountBind, Source: "/etc/ssl", Target: "/etc/ssl", ReadOnly: true},
		},
		Secrets:         []oneshot.SecretRef{{Name: "db-password"}},
		Configs:         []oneshot.ConfigRef{{Name: "app_config", Target: "/etc/app.yml"}},
		Constraints:     []string{"node.role==worker"},
		Resources:       oneshot.Resources{CPULimit: 1, MemoryLimit: 512 << 20, CPUReservation: 0.5, MemoryReservation: 256 << 20},
		StopGracePeriod: 30 * time.Second,
		LogDriver:       oneshot.LogDriver{Name: "json-file", Options: map[string]string{"max-size": "10m"}},
	}
}

// finalSpec is the spec that Run gets from `oneshot stack run ARGS` when
// the service is webService: its settings with the flags applied over
// them, as Run applies options, without Run's validation.
func finalSpec(t *testing.T, args ...string) oneshot.JobSpec {
	t.Helper()
	f, err := parseStackRunFlags(args)
	require.NoError(t, err)
	opts, err := f.options()
	require.NoError(t, err)
	spec := f.jobBase(webService())
	for _, o := range opts {
		require.NoError(t, o(&spec))
	}
	return spec
}

func TestFlagsApplyOverTheService(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "env")
	require.NoError(t, os.WriteFile(envFile, []byte("B=file\nC=file\n"), 0o600))
	cases := []struct {
		name string
		args []string
		want func(*oneshot.JobSpec) // changes webService into what the job gets
	}{
		{name: "the service as is", args: []string{"app", "web"}, want: func(*oneshot.JobSpec) {}},
		{name: "COMMAND replaces the command, not the entrypoint", args: []string{"app", "web", "migrate", "up"},
			want: func(s *oneshot.JobSpec) { s.Command = []string{"migrate", "up"} }},
		{name: "--entrypoint without COMMAND drops the command, as docker run", args: []string{"--entrypoint", "/bin/migrate", "app", "web"},
			want: func(s *oneshot.JobSpec) { s.Entrypoint, s.Command = []string{"/bin/migrate"}, []string{} }},
		{name: "--entrypoint and COMMAND", args: []string{"--entrypoint", "/bin/sh", "app", "web", "-c", "ls /"},
			want: func(s *oneshot.JobSpec) { s.Entrypoint, s.Command = []string{"/bin/sh"}, []string{"-c", "ls /"} }},
		{name: "empty --entrypoint: the image's", args: []string{"--entrypoint", "", "app", "web", "sh"},
			want: func(s *oneshot.JobSpec) { s.Entrypoint, s.Command = nil, []string{"sh"} }},
		{name: "--image", args: []string{"--image", "app:v3", "app", "web"},
			want: func(s *oneshot.JobSpec) { s.Image = "app:v3" }},
		{name: "-e replaces in place and adds", args: []string{"-e", "B=flag", "-e", "C=flag", "-e", "A=flag", "app", "web"},
			want: func(s *oneshot.JobSpec) { s.Env = []string{"A=flag", "B=flag", "C=flag"} }},
		{name: "--env-file over the service, -e over both", args: []string{"--env-file", envFile, "-e", "C=flag", "app", "web"},
			want: func(s *oneshot.JobSpec) { s.Env = []string{"A=service", "B=file", "C=flag"} }},
		{name: "scalars given replace, even empty", args: []string{"-u", "root", "--workdir", "", "--name", "app-migrate", "app", "web"},
			want: func(s *oneshot.JobSpec) { s.User, s.Workdir, s.Name = "root", "", "app-migrate" }},
		{name: "one limit replaced, the others kept", args: []string{"--cpus", "2", "--reserve-memory", "1g", "app", "web"},
			want: func(s *oneshot.JobSpec) { s.Resources.CPULimit, s.Resources.MemoryReservation = 2, 1<<30 }},
		{name: "--memory 0 lifts the limit", args: []string{"--memory", "0", "app", "web"},
			want: func(s *oneshot.JobSpec) { s.Resources.MemoryLimit = 0 }},
		{name: "time bounds and retries", args: []string{"--timeout", "10m", "--stop-timeout", "5s", "--retries", "2", "--keep", "app", "web"},
			want: func(s *oneshot.JobSpec) {
				s.Timeout, s.StopGracePeriod, s.Retries, s.Keep = 10*time.Minute, 5*time.Second, 2, true
			}},
		{name: "labels override by key", args: []string{"-l", "team=ops", "--label", "job=migrate", "app", "web"},
			want: func(s *oneshot.JobSpec) {
				s.Labels = map[string]string{"team": "ops", "tier": "front", "job": "migrate"}
			}},
		{name: "a network given again replaces the service's", args: []string{"--network", "name=app_backend,alias=migrator", "--network", "ops", "app", "web"},
			want: func(s *oneshot.JobSpec) {
				s.Networks = []oneshot.NetworkAttachment{{Name: "app_frontend"}, {Name: "app_backend", Aliases: []string{"migrator"}}, {Name: "ops"}}
			}},
		{name: "a mount at the same path replaces the service's", args: []string{"-v", "scratch:/data/", "--tmpfs", "/tmp", "app", "web"},
			want: func(s *oneshot.JobSpec) {
				s.Mounts = []oneshot.Mount{s.Mounts[1],
					{Type: oneshot.MountVolume, Source: "scratch", Target: "/data/"}, {Type: oneshot.MountTmpfs, Target: "/tmp"}}
			}},
		{name: "a secret at the same path replaces the service's", args: []string{"--secret", "source=db-admin,target=db-password", "app", "web"},
			want: func(s *oneshot.JobSpec) { s.Secrets = []oneshot.SecretRef{{Name: "db-admin", Target: "db-password"}} }},
		{name: "a secret elsewhere adds", args: []string{"--secret", "source=db-password,target=/etc/pw,mode=0400", "app", "web"},
			want: func(s *oneshot.JobSpec) {
				s.Secrets = append(s.Secrets, oneshot.SecretRef{Name: "db-password", Target: "/etc/pw", Mode: 0o400})
			}},
		{name: "configs by path", args: []string{"--config", "source=ops_config,target=/etc/app.yml", "--config", "extra", "app", "web"},
			want: func(s *oneshot.JobSpec) {
				s.Configs = []oneshot.ConfigRef{{Name: "ops_config", Target: "/etc/app.yml"}, {Name: "extra"}}
			}},
		{name: "constraints add", args: []string{"--constraint", "node.labels.db==yes", "app", "web"},
			want: func(s *oneshot.JobSpec) { s.Constraints = append(s.Constraints, "node.labels.db==yes") }},
		{name: "--log-opt adds to the service's driver", args: []string{"--log-opt", "max-size=200m", "--log-opt", "max-file=3", "app", "web"},
			want: func(s *oneshot.JobSpec) {
				s.LogDriver.Options = map[string]string{"max-size": "200m", "max-file": "3"}
			}},
		{name: "--log-driver replaces it", args: []string{"--log-driver", "local", "app", "web"},
			want: func(s *oneshot.JobSpec) { s.LogDriver = oneshot.LogDriver{Name: "local", Options: map[string]string{}} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := webService()
			tc.want(&want)
			got := finalSpec(t, tc.args...)
			// Variables in any order, each once (twice would show).
			slices.Sort(want.Env)
			slices.Sort(got.Env)
			assert.Equal(t, want, got)
			assert.NoError(t, got.Validate())
		})
	}
}

func TestFromServiceAndStackRunMakeTheSameJob(t *testing.T) {
	flags := []string{"-e", "B=flag", "--cpus", "2", "-v", "scratch:/data", "--timeout", "1m"}
	f, err := parseRunFlags(append(append([]string{"--from-service", "app_web"}, flags...), "migrate", "up"))
	require.NoError(t, err)
	opts, err := f.options()
	require.NoError(t, err)
	fromService := f.jobBase(webService())
	for _, o := range opts {
		require.NoError(t, o(&fromService))
	}
	assert.Equal(t, finalSpec(t, append(flags, "app", "web", "migrate", "up")...), fromService)
}

func TestPlainRunStartsFromImageAndCommand(t *testing.T) {
	f, err := parseRunFlags([]string{"--entrypoint", "/bin/sh", "app:v1", "-c", "true"})
	require.NoError(t, err)
	assert.Equal(t, oneshot.JobSpec{Image: "app:v1", Command: []string{"-c", "true"}}, f.jobBase(oneshot.JobSpec{}))
}
