package oneshot

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// specErrorFields returns the Field of every *SpecError in err, in order,
// failing the test on an error that is not one.
func specErrorFields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	var fields []string
	for _, e := range errs {
		var specErr *SpecError
		require.ErrorAs(t, e, &specErr, "not a *SpecError: %v", e)
		assert.True(t, strings.HasPrefix(specErr.Error(), "oneshot: JobSpec."+specErr.Field+": "), specErr.Error())
		assert.NotEmpty(t, specErr.Problem, specErr.Field)
		fields = append(fields, specErr.Field)
	}
	return fields
}

func TestValidate(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	cases := []struct {
		name   string
		edit   func(*JobSpec)
		fields []string // nil: valid
	}{
		// Image
		{"image with tag", func(s *JobSpec) { s.Image = "alpine:3.20" }, nil},
		{"image with registry, port and digest", func(s *JobSpec) { s.Image = "registry.example.com:5000/team/app:v1.2@" + digest }, nil},
		{"empty image", func(s *JobSpec) { s.Image = "" }, []string{"Image"}},
		{"image with spaces", func(s *JobSpec) { s.Image = "Not A Reference" }, []string{"Image"}},
		{"image in upper case", func(s *JobSpec) { s.Image = "Alpine:3.20" }, []string{"Image"}},
		{"image with two colons", func(s *JobSpec) { s.Image = "alpine::3" }, []string{"Image"}},
		{"image with a bad digest", func(s *JobSpec) { s.Image = "alpine@sha256:abc" }, []string{"Image"}},

		// Name
		{"no name", func(s *JobSpec) { s.Name = "" }, nil},
		{"name with - and _", func(s *JobSpec) { s.Name = "nightly_backup-2" }, nil},
		{"name of 63 characters", func(s *JobSpec) { s.Name = strings.Repeat("a", 63) }, nil},
		{"name of 64 characters", func(s *JobSpec) { s.Name = strings.Repeat("a", 64) }, []string{"Name"}},
		{"name starting with -", func(s *JobSpec) { s.Name = "-x" }, []string{"Name"}},
		{"name ending with _", func(s *JobSpec) { s.Name = "x_" }, []string{"Name"}},
		{"name with a dot", func(s *JobSpec) { s.Name = "a.b" }, []string{"Name"}},
		{"name with a space", func(s *JobSpec) { s.Name = "a b" }, []string{"Name"}},

		// Labels
		{"labels", func(s *JobSpec) { s.Labels = map[string]string{"team": "data", "com.example.x": ""} }, nil},
		{"reserved label", func(s *JobSpec) { s.Labels = map[string]string{LabelManaged: "x"} }, []string{"Labels[oneshot.managed]"}},
		{"reserved label prefix", func(s *JobSpec) { s.Labels = map[string]string{"oneshot.mine": "x"} }, []string{"Labels[oneshot.mine]"}},
		{"empty label key", func(s *JobSpec) { s.Labels = map[string]string{"": "x"} }, []string{"Labels"}},

		// Env
		{"env", func(s *JobSpec) { s.Env = []string{"A=1", "B=", "C==x", "D=a b", "lower.case-key=1"} }, nil},
		{"env without =", func(s *JobSpec) { s.Env = []string{"A=1", "B"} }, []string{"Env[1]"}},
		{"env with empty key", func(s *JobSpec) { s.Env = []string{"=1"} }, []string{"Env[0]"}},
		{"env key with a space", func(s *JobSpec) { s.Env = []string{"MY VAR=1"} }, []string{"Env[0]"}},
		{"env key with a tab", func(s *JobSpec) { s.Env = []string{"\tA=1"} }, []string{"Env[0]"}},
		{"empty env entry", func(s *JobSpec) { s.Env = []string{""} }, []string{"Env[0]"}},

		// Mounts
		{"mounts of each type", func(s *JobSpec) {
			s.Mounts = []Mount{
				{Source: "data", Target: "/data"},
				{Target: "/anonymous"},
				{Type: MountVolume, Source: "cache", Target: "/cache", ReadOnly: true},
				{Type: MountBind, Source: "/srv", Target: "/in"},
				{Type: MountTmpfs, Target: "/scratch", TmpfsSize: 1 << 20},
			}
		}, nil},
		{"relative target", func(s *JobSpec) { s.Mounts = []Mount{{Source: "v", Target: "data"}} }, []string{"Mounts[0].Target"}},
		{"empty target", func(s *JobSpec) { s.Mounts = []Mount{{Source: "v"}} }, []string{"Mounts[0].Target"}},
		{"same target twice", func(s *JobSpec) {
			s.Mounts = []Mount{{Source: "v", Target: "/d"}, {Type: MountTmpfs, Target: "/d"}}
		}, []string{"Mounts[1].Target"}},
		{"same target twice, once with a slash", func(s *JobSpec) {
			s.Mounts = []Mount{{Source: "v", Target: "/d"}, {Type: MountTmpfs, Target: "/x/../d/"}}
		}, []string{"Mounts[1].Target"}},
		{"relative bind source", func(s *JobSpec) { s.Mounts = []Mount{{Type: MountBind, Source: "rel", Target: "/d"}} }, []string{"Mounts[0].Source"}},
		{"empty bind source", func(s *JobSpec) { s.Mounts = []Mount{{Type: MountBind, Target: "/d"}} }, []string{"Mounts[0].Source"}},
		{"tmpfs with source", func(s *JobSpec) { s.Mounts = []Mount{{Type: MountTmpfs, Source: "x", Target: "/d"}} }, []string{"Mounts[0].Source"}},
		{"unknown mount type", func(s *JobSpec) { s.Mounts = []Mount{{Type: "nfs", Target: "/d"}} }, []string{"Mounts[0].Type"}},
		{"negative tmpfs size", func(s *JobSpec) { s.Mounts = []Mount{{Type: MountTmpfs, Target: "/d", TmpfsSize: -1}} }, []string{"Mounts[0].TmpfsSize"}},
		{"path as a volume name", func(s *JobSpec) { s.Mounts = []Mount{{Source: "/srv/data", Target: "/d"}} }, []string{"Mounts[0].Source"}},
		{"size on a volume", func(s *JobSpec) { s.Mounts = []Mount{{Source: "v", Target: "/d", TmpfsSize: 1}} }, []string{"Mounts[0].TmpfsSize"}},
		{"size on a bind mount", func(s *JobSpec) {
			s.Mounts = []Mount{{Type: MountBind, Source: "/srv", Target: "/d", TmpfsSize: 1}}
		}, []string{"Mounts[0].TmpfsSize"}},
		{"volume with a driver, options, labels and no copy", func(s *JobSpec) {
			s.Mounts = []Mount{{Source: "v", Target: "/d", VolumeDriver: "local", VolumeDriverOptions: map[string]string{"type": "tmpfs"}, VolumeLabels: map[string]string{"a": "b"}, NoCopy: true}}
		}, nil},
		{"driver options without a driver", func(s *JobSpec) {
			s.Mounts = []Mount{{Source: "v", Target: "/d", VolumeDriverOptions: map[string]string{"type": "tmpfs"}}}
		}, []string{"Mounts[0].VolumeDriver"}},
		{"volume options on a bind mount", func(s *JobSpec) {
			s.Mounts = []Mount{{Type: MountBind, Source: "/srv", Target: "/d", NoCopy: true}}
		}, []string{"Mounts[0]"}},
		{"bind propagation", func(s *JobSpec) {
			s.Mounts = []Mount{{Type: MountBind, Source: "/srv", Target: "/d", BindPropagation: "rslave"}}
		}, nil},
		{"unknown bind propagation", func(s *JobSpec) {
			s.Mounts = []Mount{{Type: MountBind, Source: "/srv", Target: "/d", BindPropagation: "sideways"}}
		}, []string{"Mounts[0].BindPropagation"}},
		{"propagation on a tmpfs", func(s *JobSpec) {
			s.Mounts = []Mount{{Type: MountTmpfs, Target: "/d", BindPropagation: "shared"}}
		}, []string{"Mounts[0].BindPropagation"}},

		// Secrets, configs, networks
		{"secrets, configs and networks", func(s *JobSpec) {
			s.Secrets = []SecretRef{{Name: "pw"}, {Name: "key", Target: "tls/key.pem"}, {Name: "crt", Target: "/etc/tls/crt.pem"}}
			s.Configs = []ConfigRef{{Name: "cfg"}, {Name: "cfg2", Target: "/etc/app.yml"}}
			s.Networks = []NetworkAttachment{{Name: "backend", Aliases: []string{"job"}}}
		}, nil},
		{"unnamed secret", func(s *JobSpec) { s.Secrets = []SecretRef{{Name: "pw"}, {Target: "/x"}} }, []string{"Secrets[1].Name"}},
		{"unnamed config", func(s *JobSpec) { s.Configs = []ConfigRef{{}} }, []string{"Configs[0].Name"}},
		{"relative config target", func(s *JobSpec) { s.Configs = []ConfigRef{{Name: "c", Target: "c.yml"}} }, []string{"Configs[0].Target"}},
		{"unnamed config with a relative target", func(s *JobSpec) {
			s.Configs = []ConfigRef{{Target: "c.yml"}}
		}, []string{"Configs[0].Name", "Configs[0].Target"}},
		{"two secrets at one path", func(s *JobSpec) {
			s.Secrets = []SecretRef{{Name: "pw"}, {Name: "other", Target: "/run/secrets/pw"}}
		}, []string{"Secrets[1].Target"}},
		{"one secret at two paths", func(s *JobSpec) {
			s.Secrets = []SecretRef{{Name: "pw"}, {Name: "pw", Target: "copy"}}
		}, nil},
		{"two configs at one path", func(s *JobSpec) {
			s.Configs = []ConfigRef{{Name: "app.yml"}, {Name: "v2", Target: "/app.yml"}}
		}, []string{"Configs[1].Target"}},
		{"unnamed network", func(s *JobSpec) { s.Networks = []NetworkAttachment{{Name: "n"}, {}} }, []string{"Networks[1].Name"}},

		// Constraints
		{"constraints", func(s *JobSpec) {
			s.Constraints = []string{"node.role==worker", "node.labels.disk == ssd", "node.hostname!=db-1", "engine.labels.gpu==true"}
		}, nil},
		{"constraint with one =", func(s *JobSpec) { s.Constraints = []string{"node.role=worker"} }, []string{"Constraints[0]"}},
		{"constraint without operator", func(s *JobSpec) { s.Constraints = []string{"node.role"} }, []string{"Constraints[0]"}},
		{"constraint without value", func(s *JobSpec) { s.Constraints = []string{"node.role=="} }, []string{"Constraints[0]"}},
		{"constraint without attribute", func(s *JobSpec) { s.Constraints = []string{"==worker"} }, []string{"Constraints[0]"}},
		{"empty constraint", func(s *JobSpec) { s.Constraints = []string{"node.role==worker", ""} }, []string{"Constraints[1]"}},
		{"placement preferences", func(s *JobSpec) { s.PlacementPreferences = []string{"spread=node.labels.zone"} }, nil},
		{"preference without spread=", func(s *JobSpec) { s.PlacementPreferences = []string{"node.labels.zone"} }, []string{"PlacementPreferences[0]"}},
		{"empty spread", func(s *JobSpec) { s.PlacementPreferences = []string{"spread="} }, []string{"PlacementPreferences[0]"}},

		// Resources
		{"resources", func(s *JobSpec) {
			s.Resources = Resources{CPULimit: 1.5, CPUReservation: 0.25, MemoryLimit: 1 << 30, MemoryReservation: 1 << 20}
		}, nil},
		{"negative CPU limit", func(s *JobSpec) { s.Resources.CPULimit = -0.5 }, []string{"Resources"}},
		{"negative CPU reservation", func(s *JobSpec) { s.Resources.CPUReservation = -1 }, []string{"Resources"}},
		{"negative memory limit", func(s *JobSpec) { s.Resources.MemoryLimit = -1 }, []string{"Resources"}},
		{"negative memory reservation", func(s *JobSpec) { s.Resources.MemoryReservation = -1 }, []string{"Resources"}},
		{"NaN CPU limit", func(s *JobSpec) { s.Resources.CPULimit = math.NaN() }, []string{"Resources"}},
		{"infinite CPU limit", func(s *JobSpec) { s.Resources.CPULimit = math.Inf(1) }, []string{"Resources"}},

		// Durations and retries
		{"durations and retries", func(s *JobSpec) {
			s.Timeout, s.ScheduleTimeout, s.RetryDelay, s.StopGracePeriod, s.Retries = time.Hour, time.Minute, time.Second, 5*time.Second, 3
		}, nil},
		{"negative output limit keeps nothing", func(s *JobSpec) { s.OutputLimit = -1 }, nil},
		{"negative timeout", func(s *JobSpec) { s.Timeout = -time.Second }, []string{"Timeout"}},
		{"negative schedule timeout", func(s *JobSpec) { s.ScheduleTimeout = -1 }, []string{"ScheduleTimeout"}},
		{"negative retry delay", func(s *JobSpec) { s.RetryDelay = -1 }, []string{"RetryDelay"}},
		{"negative stop grace period", func(s *JobSpec) { s.StopGracePeriod = -1 }, []string{"StopGracePeriod"}},
		{"negative retries", func(s *JobSpec) { s.Retries = -1 }, []string{"Retries"}},

		// Log driver
		{"readable log drivers", func(s *JobSpec) { s.LogDriver = LogDriver{Name: "local", Options: map[string]string{"max-size": "1g"}} }, nil},
		{"log driver whose logs cannot be read", func(s *JobSpec) { s.LogDriver = LogDriver{Name: "syslog"} }, []string{"LogDriver.Name"}},
		{"log options without a driver", func(s *JobSpec) { s.LogDriver = LogDriver{Options: map[string]string{"max-size": "1g"}} }, []string{"LogDriver.Name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := JobSpec{Image: "app:v1"}
			tc.edit(&spec)
			err := spec.Validate()
			if tc.fields == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var specErr *SpecError
			require.ErrorAs(t, err, &specErr)
			assert.Equal(t, tc.fields[0], specErr.Field, "errors.As finds the first problem")
			assert.Equal(t, tc.fields, specErrorFields(t, err), err.Error())
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	spec := JobSpec{
		Name:        "-bad",
		Env:         []string{"X"},
		Mounts:      []Mount{{Type: MountBind, Source: "rel", Target: "rel"}},
		Secrets:     []SecretRef{{}},
		Configs:     []ConfigRef{{Name: "c", Target: "c"}},
		Networks:    []NetworkAttachment{{}},
		Constraints: []string{"x"},
		Resources:   Resources{MemoryLimit: -1},
		Timeout:     -1,
		Retries:     -1,
	}
	err := spec.Validate()
	require.Error(t, err)
	assert.Equal(t, []string{
		"Image", "Name", "Env[0]", "Mounts[0].Target", "Mounts[0].Source", "Secrets[0].Name", "Configs[0].Target",
		"Networks[0].Name", "Constraints[0]", "Resources", "Timeout", "Retries",
	}, specErrorFields(t, err))
	for _, line := range strings.Split(err.Error(), "\n") {
		assert.True(t, strings.HasPrefix(line, "oneshot: JobSpec."), "one problem a line: %q", line)
	}
}

func TestValidateDoesNotChangeTheSpec(t *testing.T) {
	spec := JobSpec{Image: "app:v1", Env: []string{"A=1"}, Mounts: []Mount{{Target: "/d/"}}}
	require.NoError(t, spec.Validate())
	assert.Equal(t, JobSpec{Image: "app:v1", Env: []string{"A=1"}, Mounts: []Mount{{Target: "/d/"}}}, spec)
}

var specCreated = time.Date(2026, 11, 24, 5, 0, 0, 123, time.UTC)

func TestServiceSpecRunsTheTaskOnce(t *testing.T) {
	spec := JobSpec{Image: "app:v1"}
	got := spec.serviceSpec("job-1", swarmIDs{}, specCreated)

	assert.Equal(t, "job-1", got.Name)
	// One replica that is never restarted, not a replicated-job service (see
	// serviceSpec: job services leak their tasks on Engine 20.10).
	require.NotNil(t, got.Mode.Replicated)
	require.NotNil(t, got.Mode.Replicated.Replicas)
	assert.Equal(t, uint64(1), *got.Mode.Replicated.Replicas)
	assert.Nil(t, got.Mode.ReplicatedJob)
	assert.Nil(t, got.Mode.Global)
	assert.Equal(t, &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}, got.TaskTemplate.RestartPolicy)

	c := got.TaskTemplate.ContainerSpec
	require.NotNil(t, c)
	assert.Equal(t, "app:v1", c.Image)
	assert.Nil(t, c.Command, "the image's entrypoint")
	assert.Nil(t, c.Args, "the image's command")
	assert.Nil(t, c.Env)
	assert.Empty(t, c.User)
	assert.Empty(t, c.Dir)
	assert.Nil(t, c.Mounts)
	assert.Nil(t, c.Secrets)
	assert.Nil(t, c.Configs)
	assert.Nil(t, c.StopGracePeriod, "the engine's default")
	assert.Nil(t, got.TaskTemplate.Resources, "no resources asked, none set")
	assert.Nil(t, got.TaskTemplate.Networks)
	require.NotNil(t, got.TaskTemplate.Placement)
	assert.Empty(t, got.TaskTemplate.Placement.Constraints)
	assert.Nil(t, got.EndpointSpec, "a job publishes no port")
}

func TestServiceSpecRestartPolicy(t *testing.T) {
	cases := []struct {
		retries int
		delay   time.Duration
		want    *swarm.RestartPolicy
	}{
		{0, 0, &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}},
		{0, time.Second, &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}},
		{1, 0, &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: ptr(uint64(1)), Delay: ptr(time.Duration(0))}},
		{3, 2 * time.Second, &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: ptr(uint64(3)), Delay: ptr(2 * time.Second)}},
	}
	for _, tc := range cases {
		spec := JobSpec{Image: "a", Retries: tc.retries, RetryDelay: tc.delay}
		got := spec.serviceSpec("j", swarmIDs{}, specCreated)
		assert.Equal(t, tc.want, got.TaskTemplate.RestartPolicy, "Retries %d, RetryDelay %s", tc.retries, tc.delay)
	}
}

func ptr[T any](v T) *T { return &v }

func TestServiceSpecContainer(t *testing.T) {
	spec := JobSpec{
		Image:           "registry.example.com/app:v1",
		Command:         []string{"migrate", "up", "--to", "42 steps"},
		Entrypoint:      []string{"/bin/app", "--verbose"},
		Env:             []string{"A=1", "B=x=y"},
		User:            "1000:1000",
		Workdir:         "/work",
		StopGracePeriod: 2 * time.Second,
	}
	c := spec.serviceSpec("j", swarmIDs{}, specCreated).TaskTemplate.ContainerSpec
	assert.Equal(t, "registry.example.com/app:v1", c.Image)
	assert.Equal(t, []string{"/bin/app", "--verbose"}, c.Command, "Entrypoint is the container's command")
	assert.Equal(t, []string{"migrate", "up", "--to", "42 steps"}, c.Args, "Command is the container's args")
	assert.Equal(t, []string{"A=1", "B=x=y"}, c.Env)
	assert.Equal(t, "1000:1000", c.User)
	assert.Equal(t, "/work", c.Dir)
	require.NotNil(t, c.StopGracePeriod)
	assert.Equal(t, 2*time.Second, *c.StopGracePeriod)
}

func TestServiceSpecLabels(t *testing.T) {
	local := time.FixedZone("CET", 3600)
	created := time.Date(2026, 11, 24, 6, 0, 0, 500_000_000, local)
	user := map[string]string{"team": "data", "com.example.job": "backup"}
	spec := JobSpec{Image: "a", Labels: user}
	got := spec.serviceSpec("j", swarmIDs{}, created)

	want := map[string]string{"team": "data", "com.example.job": "backup", LabelManaged: "true", LabelCreated: "2026-11-24T05:00:00.5Z"}
	assert.Equal(t, want, got.Labels, "on the service")
	assert.Equal(t, want, got.TaskTemplate.ContainerSpec.Labels, "on the container")
	assert.Equal(t, map[string]string{"team": "data", "com.example.job": "backup"}, user, "the caller's labels are untouched")

	parsed, err := time.Parse(time.RFC3339Nano, got.Labels[LabelCreated])
	require.NoError(t, err)
	assert.True(t, parsed.Equal(created))

	none := (&JobSpec{Image: "a"}).serviceSpec("j", swarmIDs{}, specCreated)
	assert.Equal(t, map[string]string{LabelManaged: "true", LabelCreated: "2026-11-24T05:00:00.000000123Z"}, none.Labels)
	assert.Equal(t, none.Labels, none.TaskTemplate.ContainerSpec.Labels)
}

func TestServiceSpecMounts(t *testing.T) {
	cases := []struct {
		name string
		in   Mount
		want mount.Mount
	}{
		{"volume by default", Mount{Source: "data", Target: "/data"},
			mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/data"}},
		{"anonymous volume", Mount{Target: "/data"},
			mount.Mount{Type: mount.TypeVolume, Target: "/data"}},
		{"read-only volume", Mount{Type: MountVolume, Source: "data", Target: "/data", ReadOnly: true},
			mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/data", ReadOnly: true}},
		{"bind", Mount{Type: MountBind, Source: "/srv/in", Target: "/in"},
			mount.Mount{Type: mount.TypeBind, Source: "/srv/in", Target: "/in"}},
		{"read-only bind", Mount{Type: MountBind, Source: "/srv/in", Target: "/in", ReadOnly: true},
			mount.Mount{Type: mount.TypeBind, Source: "/srv/in", Target: "/in", ReadOnly: true}},
		{"tmpfs", Mount{Type: MountTmpfs, Target: "/scratch"},
			mount.Mount{Type: mount.TypeTmpfs, Target: "/scratch"}},
		{"tmpfs with a size", Mount{Type: MountTmpfs, Target: "/scratch", TmpfsSize: 64 << 20},
			mount.Mount{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20}}},
		{"volume with a driver", Mount{Source: "nfs", Target: "/data", VolumeDriver: "local", VolumeDriverOptions: map[string]string{"type": "nfs", "o": "addr=10.0.0.2"}, VolumeLabels: map[string]string{"tier": "cold"}, NoCopy: true},
			mount.Mount{Type: mount.TypeVolume, Source: "nfs", Target: "/data", VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: map[string]string{"tier": "cold"},
				DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "nfs", "o": "addr=10.0.0.2"}}}}},
		{"bind with propagation", Mount{Type: MountBind, Source: "/srv/in", Target: "/in", BindPropagation: "rshared"},
			mount.Mount{Type: mount.TypeBind, Source: "/srv/in", Target: "/in", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRShared}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := JobSpec{Image: "a", Mounts: []Mount{tc.in}}
			require.NoError(t, spec.Validate())
			got := spec.serviceSpec("j", swarmIDs{}, specCreated).TaskTemplate.ContainerSpec.Mounts
			assert.Equal(t, []mount.Mount{tc.want}, got)
		})
	}

	spec := JobSpec{Image: "a", Mounts: []Mount{{Source: "a", Target: "/a"}, {Type: MountTmpfs, Target: "/b"}, {Type: MountBind, Source: "/c", Target: "/c"}}}
	got := spec.serviceSpec("j", swarmIDs{}, specCreated).TaskTemplate.ContainerSpec.Mounts
	require.Len(t, got, 3)
	assert.Equal(t, []string{"/a", "/b", "/c"}, []string{got[0].Target, got[1].Target, got[2].Target}, "in the given order")
}

func TestServiceSpecSecretsAndConfigs(t *testing.T) {
	spec := JobSpec{
		Image: "a",
		Secrets: []SecretRef{
			{Name: "db-password"},
			{Name: "tls-key", Target: "/etc/tls/key.pem", UID: "1000", GID: "1001", Mode: 0o400},
			{Name: "db-password", Target: "pw-copy", GID: "50"},
		},
		Configs: []ConfigRef{
			{Name: "app.yml"},
			{Name: "nginx", Target: "/etc/nginx/nginx.conf", UID: "101", Mode: 0o440},
		},
	}
	ids := swarmIDs{
		secrets: map[string]string{"db-password": "sec-pw", "tls-key": "sec-key"},
		configs: map[string]string{"app.yml": "cfg-app", "nginx": "cfg-nginx"},
	}
	c := spec.serviceSpec("j", ids, specCreated).TaskTemplate.ContainerSpec

	assert.Equal(t, []*swarm.SecretReference{
		{SecretID: "sec-pw", SecretName: "db-password", File: &swarm.SecretReferenceFileTarget{Name: "db-password", UID: "0", GID: "0", Mode: 0o444}},
		{SecretID: "sec-key", SecretName: "tls-key", File: &swarm.SecretReferenceFileTarget{Name: "/etc/tls/key.pem", UID: "1000", GID: "1001", Mode: 0o400}},
		{SecretID: "sec-pw", SecretName: "db-password", File: &swarm.SecretReferenceFileTarget{Name: "pw-copy", UID: "0", GID: "50", Mode: 0o444}},
	}, c.Secrets)
	assert.Equal(t, []*swarm.ConfigReference{
		{ConfigID: "cfg-app", ConfigName: "app.yml", File: &swarm.ConfigReferenceFileTarget{Name: "/app.yml", UID: "0", GID: "0", Mode: 0o444}},
		{ConfigID: "cfg-nginx", ConfigName: "nginx", File: &swarm.ConfigReferenceFileTarget{Name: "/etc/nginx/nginx.conf", UID: "101", GID: "0", Mode: 0o440}},
	}, c.Configs)
}

func TestServiceSpecResources(t *testing.T) {
	cases := []struct {
		name string
		in   Resources
		want *swarm.ResourceRequirements
	}{
		{"none", Resources{}, nil},
		{"CPU limit in nano-CPUs", Resources{CPULimit: 0.5},
			&swarm.ResourceRequirements{Limits: &swarm.Limit{NanoCPUs: 500_000_000}}},
		{"memory limit only", Resources{MemoryLimit: 256 << 20},
			&swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 256 << 20}}},
		{"reservations only", Resources{CPUReservation: 2, MemoryReservation: 64 << 20},
			&swarm.ResourceRequirements{Reservations: &swarm.Resources{NanoCPUs: 2_000_000_000, MemoryBytes: 64 << 20}}},
		{"all four", Resources{CPULimit: 1.5, CPUReservation: 0.25, MemoryLimit: 1 << 30, MemoryReservation: 1 << 20},
			&swarm.ResourceRequirements{
				Limits:       &swarm.Limit{NanoCPUs: 1_500_000_000, MemoryBytes: 1 << 30},
				Reservations: &swarm.Resources{NanoCPUs: 250_000_000, MemoryBytes: 1 << 20},
			}},
		// 4.1*1e9 is 4099999999.9999995 in float64: truncated, the job would
		// get one nano-CPU less than `docker service create --limit-cpu 4.1`.
		{"decimal CPUs are exact", Resources{CPULimit: 4.1, CPUReservation: 2.01},
			&swarm.ResourceRequirements{
				Limits:       &swarm.Limit{NanoCPUs: 4_100_000_000},
				Reservations: &swarm.Resources{NanoCPUs: 2_010_000_000},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := JobSpec{Image: "a", Resources: tc.in}
			assert.Equal(t, tc.want, spec.serviceSpec("j", swarmIDs{}, specCreated).TaskTemplate.Resources)
		})
	}
}

func TestServiceSpecPlacementAndNetworks(t *testing.T) {
	spec := JobSpec{
		Image:       "a",
		Constraints: []string{"node.role==worker", "node.labels.disk==ssd"},
		Networks:    []NetworkAttachment{{Name: "backend", Aliases: []string{"job", "migrator"}}, {Name: "0123456789ab"}},
	}
	ids := swarmIDs{networks: map[string]string{"backend": "net-backend-id", "0123456789ab": "0123456789abcdef"}}
	got := spec.serviceSpec("j", ids, specCreated).TaskTemplate
	assert.Equal(t, &swarm.Placement{Constraints: []string{"node.role==worker", "node.labels.disk==ssd"}}, got.Placement)

	spec.PlacementPreferences = []string{"spread=node.labels.zone", "spread=node.labels.rack"}
	assert.Equal(t, []swarm.PlacementPreference{
		{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}},
		{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.rack"}},
	}, spec.serviceSpec("j", ids, specCreated).TaskTemplate.Placement.Preferences, "spread over, in order")
	assert.Equal(t, []swarm.NetworkAttachmentConfig{
		{Target: "net-backend-id", Aliases: []string{"job", "migrator"}},
		{Target: "0123456789abcdef"},
	}, got.Networks, "attached by ID, with the aliases")
}

func TestServiceSpecLogDriver(t *testing.T) {
	assert.Nil(t, (&JobSpec{Image: "a"}).serviceSpec("j", swarmIDs{}, specCreated).TaskTemplate.LogDriver, "the node's default")
	opts := map[string]string{"max-size": "100m", "max-file": "2"}
	spec := JobSpec{Image: "a", LogDriver: LogDriver{Name: "json-file", Options: opts}}
	got := spec.serviceSpec("j", swarmIDs{}, specCreated).TaskTemplate.LogDriver
	assert.Equal(t, &swarm.Driver{Name: "json-file", Options: opts}, got)
	got.Options["max-size"] = "1k"
	assert.Equal(t, "100m", opts["max-size"], "the spec's map is not shared with the swarm's")
}

func TestOutputLimit(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, DefaultOutputLimit}, {-1, 0}, {-100, 0}, {1, 1}, {10 << 20, 10 << 20}} {
		assert.Equal(t, tc.want, (&JobSpec{OutputLimit: tc.in}).outputLimit(), "OutputLimit %d", tc.in)
	}
}

func TestValidateReturnsAnUntypedNil(t *testing.T) {
	err := (&JobSpec{Image: "a"}).Validate()
	assert.True(t, err == nil)
	assert.False(t, errors.As(err, new(*SpecError)))
}
