package oneshot

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEachOption(t *testing.T) {
	var stdout, stderr bytes.Buffer
	statusCalls := 0
	onStatus := func(TaskStatus) { statusCalls++ }
	cases := []struct {
		name string
		opts []Option
		want func(*JobSpec) // edits the base spec into the expected one
	}{
		{"WithImage", []Option{WithImage("postgres:17")}, func(s *JobSpec) { s.Image = "postgres:17" }},
		{"WithCommand", []Option{WithCommand("migrate", "up", "two words")},
			func(s *JobSpec) { s.Command = []string{"migrate", "up", "two words"} }},
		{"WithCommand without arguments clears it", []Option{WithCommand()}, func(s *JobSpec) { s.Command = nil }},
		{"WithEntrypoint", []Option{WithEntrypoint("/bin/sh", "-c")}, func(s *JobSpec) { s.Entrypoint = []string{"/bin/sh", "-c"} }},
		{"WithEnv appends", []Option{WithEnv("B", "2"), WithEnv("C", ""), WithEnv("D", "x=y z")},
			func(s *JobSpec) { s.Env = []string{"A=1", "B=2", "C=", "D=x=y z"} }},
		{"WithName", []Option{WithName("nightly-backup")}, func(s *JobSpec) { s.Name = "nightly-backup" }},
		{"WithLabel adds and overrides", []Option{WithLabel("k2", "v2"), WithLabel("k", "new")},
			func(s *JobSpec) { s.Labels = map[string]string{"k": "new", "k2": "v2"} }},
		{"WithUser", []Option{WithUser("1000:1000")}, func(s *JobSpec) { s.User = "1000:1000" }},
		{"WithWorkdir", []Option{WithWorkdir("/work")}, func(s *JobSpec) { s.Workdir = "/work" }},
		{"WithNetwork", []Option{WithNetwork("backend", "job", "worker"), WithNetwork("frontend")},
			func(s *JobSpec) {
				s.Networks = []NetworkAttachment{{Name: "backend", Aliases: []string{"job", "worker"}}, {Name: "frontend"}}
			}},
		{"WithVolume", []Option{WithVolume("data", "/data")},
			func(s *JobSpec) { s.Mounts = []Mount{{Type: MountVolume, Source: "data", Target: "/data"}} }},
		{"WithBind", []Option{WithBind("/srv/in", "/in")},
			func(s *JobSpec) { s.Mounts = []Mount{{Type: MountBind, Source: "/srv/in", Target: "/in"}} }},
		{"WithTmpfs", []Option{WithTmpfs("/scratch")}, func(s *JobSpec) { s.Mounts = []Mount{{Type: MountTmpfs, Target: "/scratch"}} }},
		{"WithMount", []Option{WithMount(Mount{Type: MountTmpfs, Target: "/t", TmpfsSize: 1 << 20, ReadOnly: true})},
			func(s *JobSpec) {
				s.Mounts = []Mount{{Type: MountTmpfs, Target: "/t", TmpfsSize: 1 << 20, ReadOnly: true}}
			}},
		{"mounts accumulate in order", []Option{WithVolume("v", "/v"), WithTmpfs("/t")},
			func(s *JobSpec) {
				s.Mounts = []Mount{{Type: MountVolume, Source: "v", Target: "/v"}, {Type: MountTmpfs, Target: "/t"}}
			}},
		{"WithSecret", []Option{WithSecret("db-password")}, func(s *JobSpec) { s.Secrets = []SecretRef{{Name: "db-password"}} }},
		{"WithSecretRef", []Option{WithSecretRef(SecretRef{Name: "k", Target: "/k", UID: "1", GID: "2", Mode: 0o400})},
			func(s *JobSpec) { s.Secrets = []SecretRef{{Name: "k", Target: "/k", UID: "1", GID: "2", Mode: 0o400}} }},
		{"WithConfig", []Option{WithConfig("app.yml", "/etc/app.yml"), WithConfig("other", "")},
			func(s *JobSpec) { s.Configs = []ConfigRef{{Name: "app.yml", Target: "/etc/app.yml"}, {Name: "other"}} }},
		{"WithConfigRef", []Option{WithConfigRef(ConfigRef{Name: "c", Mode: 0o440})},
			func(s *JobSpec) { s.Configs = []ConfigRef{{Name: "c", Mode: 0o440}} }},
		{"WithConstraint", []Option{WithConstraint("node.role==worker"), WithConstraint("node.labels.disk==ssd")},
			func(s *JobSpec) { s.Constraints = []string{"node.role==worker", "node.labels.disk==ssd"} }},
		{"WithResources", []Option{WithResources(Resources{CPULimit: 2, MemoryLimit: 1 << 30})},
			func(s *JobSpec) { s.Resources = Resources{CPULimit: 2, MemoryLimit: 1 << 30} }},
		{"WithRegistryAuth", []Option{WithRegistryAuth(RegistryAuth{Username: "u", Password: "p", ServerAddress: "reg"})},
			func(s *JobSpec) { s.RegistryAuth = &RegistryAuth{Username: "u", Password: "p", ServerAddress: "reg"} }},
		{"WithRetries", []Option{WithRetries(3, time.Second)}, func(s *JobSpec) { s.Retries, s.RetryDelay = 3, time.Second }},
		{"WithTimeout", []Option{WithTimeout(time.Minute)}, func(s *JobSpec) { s.Timeout = time.Minute }},
		{"WithScheduleTimeout", []Option{WithScheduleTimeout(time.Second)}, func(s *JobSpec) { s.ScheduleTimeout = time.Second }},
		{"WithStdout and WithStderr", []Option{WithStdout(&stdout), WithStderr(&stderr)},
			func(s *JobSpec) { s.Stdout, s.Stderr = &stdout, &stderr }},
		{"WithOutputLimit", []Option{WithOutputLimit(-1)}, func(s *JobSpec) { s.OutputLimit = -1 }},
		{"WithStopGracePeriod", []Option{WithStopGracePeriod(30 * time.Second)}, func(s *JobSpec) { s.StopGracePeriod = 30 * time.Second }},
		{"WithKeep", []Option{WithKeep()}, func(s *JobSpec) { s.Keep = true }},
		{"WithLogDriver", []Option{WithLogDriver("json-file", map[string]string{"max-size": "100m"})},
			func(s *JobSpec) {
				s.LogDriver = LogDriver{Name: "json-file", Options: map[string]string{"max-size": "100m"}}
			}},
		{"the last option wins", []Option{WithImage("a:1"), WithTimeout(time.Second), WithImage("b:2"), WithTimeout(time.Hour)},
			func(s *JobSpec) { s.Image, s.Timeout = "b:2", time.Hour }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := JobSpec{Image: "app:v1", Env: []string{"A=1"}, Labels: map[string]string{"k": "v"}}
			want := JobSpec{Image: "app:v1", Env: []string{"A=1"}, Labels: map[string]string{"k": "v"}}
			tc.want(&want)
			got, err := applyOptions(base, tc.opts)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}

	// Funcs cannot be compared: WithStatusFunc on its own.
	got, err := applyOptions(JobSpec{Image: "a"}, []Option{WithStatusFunc(onStatus)})
	require.NoError(t, err)
	require.NotNil(t, got.OnStatus)
	got.OnStatus(TaskStatus{State: StateRunning})
	assert.Equal(t, 1, statusCalls)
}

func TestOptionsApplyOnACopy(t *testing.T) {
	// Slices with room to grow: appending to them in place would write into
	// the caller's arrays.
	env := make([]string, 1, 8)
	env[0] = "A=1"
	mounts := make([]Mount, 1, 8)
	mounts[0] = Mount{Source: "v", Target: "/v"}
	base := JobSpec{
		Image:       "app:v1",
		Command:     []string{"run"},
		Entrypoint:  []string{"/bin/app"},
		Env:         env,
		Labels:      map[string]string{"k": "v"},
		Networks:    append(make([]NetworkAttachment, 0, 8), NetworkAttachment{Name: "n1"}),
		Mounts:      mounts,
		Secrets:     append(make([]SecretRef, 0, 8), SecretRef{Name: "s1"}),
		Configs:     append(make([]ConfigRef, 0, 8), ConfigRef{Name: "c1"}),
		Constraints: append(make([]string, 0, 8), "node.role==worker"),
	}
	got, err := applyOptions(base, []Option{
		WithEnv("B", "2"), WithLabel("k2", "v2"), WithNetwork("n2"), WithTmpfs("/t"),
		WithSecret("s2"), WithConfig("c2", ""), WithConstraint("node.labels.x==y"),
	})
	require.NoError(t, err)

	// Change the copy in place, too: the caller must not see it.
	got.Command[0], got.Entrypoint[0], got.Env[0] = "changed", "changed", "changed"
	got.Mounts[0].Target, got.Networks[0].Name = "/changed", "changed"
	got.Secrets[0].Name, got.Configs[0].Name, got.Constraints[0] = "changed", "changed", "changed"
	got.Labels["k"] = "changed"

	assert.Equal(t, JobSpec{
		Image:       "app:v1",
		Command:     []string{"run"},
		Entrypoint:  []string{"/bin/app"},
		Env:         []string{"A=1"},
		Labels:      map[string]string{"k": "v"},
		Networks:    []NetworkAttachment{{Name: "n1"}},
		Mounts:      []Mount{{Source: "v", Target: "/v"}},
		Secrets:     []SecretRef{{Name: "s1"}},
		Configs:     []ConfigRef{{Name: "c1"}},
		Constraints: []string{"node.role==worker"},
	}, base, "the caller's spec is untouched")
	assert.Equal(t, "", env[:2][1], "nothing was appended into the caller's array")
	assert.Equal(t, Mount{}, mounts[:2][1], "nothing was appended into the caller's array")
	assert.Len(t, got.Env, 2)
	assert.Len(t, got.Mounts, 2)
}

func TestWithLabelOnASpecWithoutLabels(t *testing.T) {
	var spec JobSpec
	require.NoError(t, WithLabel("k", "v")(&spec), "applied directly, without applyOptions")
	assert.Equal(t, map[string]string{"k": "v"}, spec.Labels)

	got, err := applyOptions(JobSpec{Image: "a"}, []Option{WithLabel("k", "v")})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"k": "v"}, got.Labels)
}

func TestOptionsCopyTheirArguments(t *testing.T) {
	args := []string{"a", "b"}
	got, err := applyOptions(JobSpec{Image: "a"}, []Option{WithCommand(args...), WithEntrypoint(args...)})
	require.NoError(t, err)
	args[0] = "changed" // after the spec was made
	assert.Equal(t, []string{"a", "b"}, got.Command)
	assert.Equal(t, []string{"a", "b"}, got.Entrypoint)
}

func TestWithEnvRejectsBadKeys(t *testing.T) {
	cases := []struct {
		key string
		ok  bool
	}{
		{"A", true},
		{"lower_case.dotted-key", true},
		{"É", true},
		{"", false},
		{"A=B", false},
		{"=", false},
		{"MY VAR", false},
		{"A\tB", false},
		{"A\n", false},
		{" A", false},
	}
	for _, tc := range cases {
		var spec JobSpec
		err := WithEnv(tc.key, "v")(&spec)
		if tc.ok {
			assert.NoError(t, err, "%q", tc.key)
			assert.Equal(t, []string{tc.key + "=v"}, spec.Env)
			continue
		}
		var specErr *SpecError
		if assert.ErrorAs(t, err, &specErr, "%q", tc.key) {
			assert.Equal(t, "Env", specErr.Field)
			assert.Contains(t, specErr.Problem, "WithEnv(")
		}
		assert.Empty(t, spec.Env, "nothing added for %q", tc.key)
	}
}

func TestWithEnvFileAddsTheFilesVariables(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "job.env")
	require.NoError(t, os.WriteFile(path, []byte("# settings\nMODE=full\n\n  QUOTED=\"kept\"\nONESHOT_TEST_FROM_ENV\nONESHOT_TEST_UNSET\n"), 0o600))
	t.Setenv("ONESHOT_TEST_FROM_ENV", "from the process")

	got, err := applyOptions(JobSpec{Image: "a", Env: []string{"A=1"}}, []Option{WithEnvFile(path), WithEnv("Z", "last")})
	require.NoError(t, err)
	assert.Equal(t, []string{"A=1", "MODE=full", `QUOTED="kept"`, "ONESHOT_TEST_FROM_ENV=from the process", "Z=last"}, got.Env)

	bad := filepath.Join(dir, "bad.env")
	require.NoError(t, os.WriteFile(bad, []byte("OK=1\nBAD KEY=2\n"), 0o600))
	for _, tc := range []struct {
		path  string
		wants []string
	}{
		{filepath.Join(dir, "missing.env"), []string{"missing.env", "WithEnvFile"}},
		{bad, []string{"bad.env", "line 2", `"BAD KEY"`}},
		{dir, []string{"WithEnvFile"}}, // a directory
	} {
		_, err := applyOptions(JobSpec{Image: "a"}, []Option{WithEnvFile(tc.path)})
		var specErr *SpecError
		require.ErrorAs(t, err, &specErr, tc.path)
		assert.Equal(t, "Env", specErr.Field)
		if tc.path == filepath.Join(dir, "missing.env") {
			assert.ErrorIs(t, err, fs.ErrNotExist, "the cause is kept")
		}
		for _, want := range tc.wants {
			assert.Contains(t, err.Error(), want)
		}
	}
}

func TestAnOptionErrorStopsBeforeValidation(t *testing.T) {
	applied := false
	later := func(*JobSpec) error { applied = true; return nil }
	// The spec has no image: Validate would say so, but the option's error
	// comes first and alone.
	_, err := applyOptions(JobSpec{}, []Option{WithEnv("BAD KEY", "x"), later})
	var specErr *SpecError
	require.ErrorAs(t, err, &specErr)
	assert.Equal(t, "Env", specErr.Field)
	assert.NotContains(t, err.Error(), "Image")
	assert.False(t, applied, "the options after a failing one are not applied")

	custom := errors.New("custom option failed")
	_, err = applyOptions(JobSpec{Image: "a"}, []Option{func(*JobSpec) error { return custom }})
	assert.Same(t, custom, err, "an option's own error is returned as is")
}

func TestApplyOptionsValidatesTheResult(t *testing.T) {
	// The spec alone is invalid; the options make it valid.
	got, err := applyOptions(JobSpec{}, []Option{WithImage("app:v1")})
	require.NoError(t, err)
	assert.Equal(t, "app:v1", got.Image)

	// The spec alone is valid; the options make it invalid.
	_, err = applyOptions(JobSpec{Image: "app:v1"}, []Option{WithLabel(LabelManaged, "x"), WithTmpfs("rel")})
	assert.Equal(t, []string{"Labels[oneshot.managed]", "Mounts[0].Target"}, specErrorFields(t, err))
}

func TestRunnerOptions(t *testing.T) {
	_, err := NewRunner(WithClient(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithClient(nil)")

	logger := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	r := &Runner{log: slog.New(slog.DiscardHandler)}
	require.NoError(t, WithLogger(logger)(r))
	assert.Same(t, logger, r.log)
	require.NoError(t, WithLogger(nil)(r))
	assert.Same(t, logger, r.log, "a nil logger changes nothing")
}

func TestPruneOptions(t *testing.T) {
	var cfg pruneConfig
	for _, opt := range []PruneOption{PruneOlderThan(time.Hour), PruneDryRun()} {
		opt(&cfg)
	}
	assert.Equal(t, pruneConfig{olderThan: time.Hour, dryRun: true}, cfg)
}

func TestWithNetworkCopiesTheAliases(t *testing.T) {
	aliases := []string{"job"}
	got, err := applyOptions(JobSpec{Image: "a"}, []Option{WithNetwork("backend", aliases...)})
	require.NoError(t, err)
	aliases[0] = "changed later"
	assert.Equal(t, []string{"job"}, got.Networks[0].Aliases)
}
