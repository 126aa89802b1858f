package main

import (
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

func TestParseRunFlagsStopsAtTheImage(t *testing.T) {
	f, err := parseRunFlags([]string{"-e", "A=1", "--env", "B=2", "--network", "n1", "-network", "n2", "-q",
		"app:v1", "sh", "-c", "echo -e x", "--json"})
	require.NoError(t, err)
	assert.Equal(t, "app:v1", f.image)
	assert.Equal(t, []string{"sh", "-c", "echo -e x", "--json"}, f.command)
	assert.Equal(t, stringList{"A=1", "B=2"}, f.env)
	assert.Equal(t, stringList{"n1", "n2"}, f.networks)
	assert.True(t, f.quiet)
	assert.False(t, f.json, "--json after IMAGE is the job's")
}

func TestParseRunFlagsErrors(t *testing.T) {
	_, err := parseRunFlags([]string{"-q"})
	assert.ErrorContains(t, err, "needs an IMAGE")
	_, err = parseRunFlags([]string{"--no-such-flag", "app:v1"})
	assert.ErrorContains(t, err, "no-such-flag")
	_, err = parseRunFlags([]string{"--timeout", "soon", "app:v1"})
	assert.ErrorContains(t, err, "timeout")
	_, err = parseRunFlags([]string{"--help", "app:v1"})
	assert.ErrorIs(t, err, errHelp)
}

func TestUsageListsEveryFlag(t *testing.T) {
	for usage, fs := range map[string]*flag.FlagSet{
		runUsage:      (&runFlags{}).runFlagSet(),
		stackRunUsage: (&runFlags{}).stackRunFlagSet(),
	} {
		fs.VisitAll(func(fl *flag.Flag) {
			dashes := "--"
			if len(fl.Name) == 1 {
				dashes = "-"
			}
			shown := regexp.MustCompile(`(?m)^ +(-[a-z], )?` + dashes + regexp.QuoteMeta(fl.Name) + `[ ,\n]`)
			assert.True(t, shown.MatchString(usage), "%s --help must show %s%s", fs.Name(), dashes, fl.Name)
		})
	}
}

func TestFlagsBecomeAValidSpec(t *testing.T) {
	t.Setenv("ONESHOT_TEST_PASSED", "from here")
	f, err := parseRunFlags([]string{"--memory", "256m", "--cpus", "0.5", "--reserve-memory", "64m", "--reserve-cpus", "0.25",
		"-v", "data:/data", "--tmpfs", "/tmp:size=1m", "--mount", "type=bind,src=/srv,dst=/srv,ro",
		"--secret", "source=pw,target=/run/pw,mode=0400", "--config", "app.yml", "--network", "name=backend,alias=job",
		"--constraint", "node.role==worker", "--label", "team=data", "-l", "tier",
		"-e", "A=1", "-e", "ONESHOT_TEST_PASSED", "-e", "ONESHOT_TEST_UNSET",
		"-u", "1000", "-w", "/work", "--entrypoint", "/bin/job", "--name", "nightly",
		"--timeout", "1m", "--schedule-timeout", "5s", "--stop-timeout", "2s", "--retries", "2", "--retry-delay", "1s", "--keep",
		"--log-driver", "json-file", "--log-opt", "max-size=100m", "--log-opt", "max-file=2",
		"app:v1", "run"})
	require.NoError(t, err)
	opts, err := f.options()
	require.NoError(t, err)
	spec := oneshot.JobSpec{Image: f.image, Command: f.command}
	for _, o := range opts {
		require.NoError(t, o(&spec))
	}
	require.NoError(t, spec.Validate())
	assert.Equal(t, oneshot.Resources{CPULimit: 0.5, MemoryLimit: 256 << 20, CPUReservation: 0.25, MemoryReservation: 64 << 20}, spec.Resources)
	assert.Equal(t, []oneshot.Mount{
		{Type: oneshot.MountBind, Source: "/srv", Target: "/srv", ReadOnly: true},
		{Type: oneshot.MountVolume, Source: "data", Target: "/data"},
		{Type: oneshot.MountTmpfs, Target: "/tmp", TmpfsSize: 1 << 20},
	}, spec.Mounts)
	assert.Equal(t, []oneshot.SecretRef{{Name: "pw", Target: "/run/pw", Mode: 0o400}}, spec.Secrets)
	assert.Equal(t, []oneshot.ConfigRef{{Name: "app.yml"}}, spec.Configs)
	assert.Equal(t, []oneshot.NetworkAttachment{{Name: "backend", Aliases: []string{"job"}}}, spec.Networks)
	assert.Equal(t, []string{"node.role==worker"}, spec.Constraints)
	assert.Equal(t, map[string]string{"team": "data", "tier": ""}, spec.Labels)
	assert.Equal(t, []string{"A=1", "ONESHOT_TEST_PASSED=from here"}, spec.Env)
	assert.Equal(t, []string{"/bin/job"}, spec.Entrypoint)
	assert.Equal(t, []string{"run"}, spec.Command)
	assert.Equal(t, [3]string{"1000", "/work", "nightly"}, [3]string{spec.User, spec.Workdir, spec.Name})
	assert.Equal(t, [2]int{2, 1}, [2]int{spec.Retries, int(spec.RetryDelay.Seconds())})
	assert.Equal(t, "1m0s 5s 2s", spec.Timeout.String()+" "+spec.ScheduleTimeout.String()+" "+spec.StopGracePeriod.String())
	assert.True(t, spec.Keep)
	assert.Equal(t, oneshot.LogDriver{Name: "json-file", Options: map[string]string{"max-size": "100m", "max-file": "2"}}, spec.LogDriver)
}

func TestFlagValuesThatCannotBeParsed(t *testing.T) {
	for _, args := range [][]string{
		{"--mount", "target=/x,colour=blue"},
		{"-v", "a:/b:rx"},
		{"--tmpfs", "/x:exec"},
		{"--secret", "source=x,mode=rw"},
		{"--config", "target=/x"},
		{"--network", "alias=x"},
		{"--memory", "lots"},
		{"--reserve-memory", "-1"},
		{"-e", "=x"},
		{"--label", "=x"},
		{"--log-opt", "max-size"},
	} {
		f, err := parseRunFlags(append(args, "app:v1"))
		require.NoError(t, err, args)
		_, err = f.options()
		if assert.Error(t, err, args) {
			assert.Contains(t, err.Error(), args[0]+" ", "the error names the flag")
		}
	}
}

func TestShowProgress(t *testing.T) {
	cases := []struct {
		quiet, progress, terminal, want bool
	}{
		{terminal: true, want: true},
		{terminal: false, want: false},
		{progress: true, want: true},
		{quiet: true, terminal: true, want: false},
		{quiet: true, progress: true, want: false},
	}
	for _, tc := range cases {
		f := &runFlags{quiet: tc.quiet, progress: tc.progress}
		assert.Equal(t, tc.want, f.showProgress(tc.terminal), "%+v", tc)
	}
}

func TestWithRegistryAuthReadsTheDockerConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	config := `{"auths": {"registry.example.com:5000": {"auth": "` + base64.StdEncoding.EncodeToString([]byte("robot:s3cret")) + `"}}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o600))
	for image, want := range map[string]*oneshot.RegistryAuth{
		"registry.example.com:5000/team/app:v1": {Username: "robot", Password: "s3cret", ServerAddress: "registry.example.com:5000"},
		"other.example.com/app:v1":              nil,
	} {
		f, err := parseRunFlags([]string{"--with-registry-auth", image})
		require.NoError(t, err)
		opts, err := f.options()
		require.NoError(t, err)
		spec := oneshot.JobSpec{Image: f.image}
		for _, o := range opts {
			require.NoError(t, o(&spec))
		}
		assert.Equal(t, want, spec.RegistryAuth, image)
	}
}
