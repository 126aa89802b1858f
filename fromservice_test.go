package oneshot

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The services of testdata/services/compose.yaml as Docker 20.10 holds
// them after `docker stack deploy` (captured by testdata/services/capture.sh).

// capturedService reads a service that capture.sh wrote.
func capturedService(t *testing.T, file string) swarm.Service {
	t.Helper()
	var services []swarm.Service
	readJSON(t, filepath.Join("testdata", "services", file), &services)
	require.Len(t, services, 1)
	return services[0]
}

// capturedNetworkNames maps the IDs of the captured stack's networks to
// their names.
func capturedNetworkNames(t *testing.T) map[string]string {
	t.Helper()
	var networks []network.Inspect
	readJSON(t, filepath.Join("testdata", "services", "networks.json"), &networks)
	names := map[string]string{}
	for _, n := range networks {
		names[n.ID] = n.Name
	}
	return names
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, v))
}

func TestFromServiceTakesWhatTheTaskRunsWith(t *testing.T) {
	svc := capturedService(t, "app.json")
	spec, err := specFromService(svc.Spec, capturedNetworkNames(t))
	require.NoError(t, err)

	assert.Equal(t, "oneshot-jobkit:dev", spec.Image)
	assert.Equal(t, []string{"/jobkit"}, spec.Entrypoint)
	assert.Equal(t, []string{"serve", ":8080", "/srv"}, spec.Command)
	assert.Equal(t, []string{"DB_HOST=db", "MODE=production"}, spec.Env)
	assert.Equal(t, "1000:1000", spec.User)
	assert.Equal(t, "/srv", spec.Workdir)
	assert.Equal(t, []NetworkAttachment{{Name: "fx_backend"}, {Name: "fx_default"}}, spec.Networks, "by name, without the service's aliases")
	assert.Equal(t, []SecretRef{
		{Name: "fx_api-key", Target: "api-key", UID: "0", GID: "0", Mode: 0o444},
		{Name: "fx_db-password", Target: "db-pass", UID: "1000", GID: "1000", Mode: 0o400},
	}, spec.Secrets)
	assert.Equal(t, []ConfigRef{{Name: "fx_app-config", Target: "/etc/app/config.yml", UID: "0", GID: "0", Mode: 0o440}}, spec.Configs)
	stackLabel := map[string]string{LabelStackNamespace: "fx"}
	assert.Equal(t, []Mount{
		{Type: MountVolume, Source: "fx_data", Target: "/var/lib/app", VolumeLabels: stackLabel},
		{Type: MountBind, Source: "/srv/shared", Target: "/shared", ReadOnly: true},
		{Type: MountTmpfs, Target: "/scratch", TmpfsSize: 1 << 20},
		{Type: MountVolume, Source: "fx_cache", Target: "/cache", NoCopy: true, VolumeLabels: stackLabel,
			VolumeDriver: "local", VolumeDriverOptions: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}},
	}, spec.Mounts, "the volumes keep the labels the stack made them with")
	assert.Equal(t, []string{"node.role==manager"}, spec.Constraints)
	assert.Equal(t, []string{"spread=node.labels.zone"}, spec.PlacementPreferences)
	assert.Equal(t, Resources{CPULimit: 0.5, MemoryLimit: 64 << 20, CPUReservation: 0.25, MemoryReservation: 32 << 20}, spec.Resources)
	assert.Equal(t, LogDriver{Name: "json-file", Options: map[string]string{"max-size": "10m"}}, spec.LogDriver)
	assert.Equal(t, 42*time.Second, spec.StopGracePeriod)
	assert.Equal(t, map[string]string{"com.example.service": "s", "com.example.container": "c"}, spec.Labels,
		"its own labels, not the stack's")
	require.NoError(t, spec.Validate())
}

func TestFromServiceLeavesTheServiceBehaviourOut(t *testing.T) {
	svc := capturedService(t, "app.json")
	require.NotNil(t, svc.Spec.TaskTemplate.ContainerSpec.Healthcheck, "the fixture has what must not be taken")
	require.NotNil(t, svc.Spec.EndpointSpec)
	require.NotNil(t, svc.Spec.UpdateConfig)
	spec, err := specFromService(svc.Spec, capturedNetworkNames(t))
	require.NoError(t, err)

	got := spec.serviceSpec("job", swarmIDs{networks: map[string]string{"fx_backend": "qhrgd84hbth5gpf898dgvlh07", "fx_default": "fe2ns69ub7tsowxhidle3te7k"}}, specCreated)
	assert.Equal(t, uint64(1), *got.Mode.Replicated.Replicas, "one task, whatever the service's replicas")
	assert.Nil(t, got.EndpointSpec, "no published ports")
	assert.Nil(t, got.UpdateConfig)
	assert.Nil(t, got.RollbackConfig)
	c := got.TaskTemplate.ContainerSpec
	assert.Nil(t, c.Healthcheck)
	assert.Empty(t, c.Hostname)
	assert.Equal(t, swarm.RestartPolicyConditionNone, got.TaskTemplate.RestartPolicy.Condition, "the service's restart policy is not the job's")
	for _, labels := range []map[string]string{got.Labels, c.Labels} {
		assert.NotContains(t, labels, LabelStackNamespace, "docker stack deploy --prune would remove the job")
		assert.NotContains(t, labels, "com.docker.stack.image")
		assert.Equal(t, "fx_app", labels[LabelFromService])
		assert.Equal(t, "true", labels[LabelManaged])
	}
	for _, n := range got.TaskTemplate.Networks {
		assert.Empty(t, n.Aliases, "the job does not answer for the service")
	}
}

func TestFromServiceKeepsTheNodeDefaultForUnreadableLogs(t *testing.T) {
	svc := capturedService(t, "worker.json")
	require.Equal(t, "syslog", svc.Spec.TaskTemplate.LogDriver.Name)
	spec, err := specFromService(svc.Spec, capturedNetworkNames(t))
	require.NoError(t, err)
	assert.Equal(t, LogDriver{}, spec.LogDriver, "the engine cannot serve syslog's logs")
	assert.Nil(t, spec.Entrypoint, "the image's own entrypoint")
	assert.Equal(t, []string{"sleep", "1h"}, spec.Command)
	assert.Equal(t, []NetworkAttachment{{Name: "fx_default"}}, spec.Networks)
	assert.Nil(t, spec.Labels)
	require.NoError(t, spec.Validate())
}

func TestFromServiceRefusesWhatAJobCannotHave(t *testing.T) {
	cases := []struct {
		name string
		edit func(*swarm.ServiceSpec)
		key  string
	}{
		{"no container", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec = nil }, "TaskTemplate.ContainerSpec"},
		{"a named pipe", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = append(s.TaskTemplate.ContainerSpec.Mounts, mount.Mount{Type: mount.TypeNamedPipe, Source: `\\.\pipe\x`, Target: `\\.\pipe\x`})
		}, "TaskTemplate.ContainerSpec.Mounts[4]"},
		{"a volume's subpath", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts[0].VolumeOptions.Subpath = "pg"
		}, "TaskTemplate.ContainerSpec.Mounts[0].VolumeOptions.Subpath"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := capturedService(t, "app.json")
			tc.edit(&svc.Spec)
			_, err := specFromService(svc.Spec, nil)
			var srcErr *SourceError
			require.ErrorAs(t, err, &srcErr)
			assert.Equal(t, "fx_app", srcErr.Source)
			assert.Equal(t, tc.key, srcErr.Key)
			assert.NotEmpty(t, srcErr.Fix)
		})
	}
}

func TestRunnerFromService(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	svc := capturedService(t, "app.json")
	f.services[svc.ID] = svc
	f.networks = []network.Summary{{Network: network.Network{ID: "qhrgd84hbth5gpf898dgvlh07", Name: "fx_backend", Scope: "swarm"}}}

	spec, err := r.FromService(context.Background(), "fx_app")
	require.NoError(t, err)
	assert.Equal(t, []NetworkAttachment{{Name: "fx_backend"}, {Name: "fe2ns69ub7tsowxhidle3te7k"}}, spec.Networks,
		"a network the engine does not name stays an ID, which Start takes")

	_, err = r.FromService(context.Background(), "fx_nothing")
	assert.ErrorIs(t, err, ErrServiceNotFound)
	assert.ErrorContains(t, err, `"fx_nothing"`)
	assert.Zero(t, f.callCount("ServiceCreate"))
}

func TestFromServiceOverriddenByOptions(t *testing.T) {
	spec, err := specFromService(capturedService(t, "app.json").Spec, capturedNetworkNames(t))
	require.NoError(t, err)
	got, err := applyOptions(spec, []Option{WithCommand("migrate", "up"), WithEnv("MODE", "migration")})
	require.NoError(t, err)
	assert.Equal(t, []string{"migrate", "up"}, got.Command)
	assert.Equal(t, []string{"/jobkit"}, got.Entrypoint, "the service's entrypoint stays")
	assert.Equal(t, []string{"DB_HOST=db", "MODE=migration"}, got.Env, "WithEnv replaces the service's value")
	assert.Equal(t, "fx_app", got.fromService, "kept through the options")
}
