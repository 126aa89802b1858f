package oneshot

import (
	"context"
	"errors"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartExplainsAnEngineThatIsNoManager(t *testing.T) {
	notManager := cerrdefs.ErrUnavailable.WithMessage("This node is not a swarm manager.")
	cases := []struct {
		name  string
		info  swarm.Info
		wants []string
	}{
		{name: "in no swarm", info: swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}, wants: []string{"docker swarm init", "inactive"}},
		{name: "a worker", info: swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, RemoteManagers: []swarm.Peer{{Addr: "10.0.0.1:2377"}}},
			wants: []string{"worker", "10.0.0.1:2377"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, f, _ := newFakeRunner(t)
			f.createErr = notManager
			f.info.Swarm = tc.info
			_, err := r.Start(context.Background(), JobSpec{Image: "app:v1"})
			require.ErrorIs(t, err, ErrNotSwarmManager)
			for _, want := range tc.wants {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestStartRefusesBadSpecsBeforeCreatingAnything(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	_, err := r.Start(context.Background(), JobSpec{}, WithSecret("no-such-secret"))
	var specErr *SpecError
	require.ErrorAs(t, err, &specErr)
	assert.Equal(t, "Image", specErr.Field)
	_, err = r.Start(context.Background(), JobSpec{Image: "app:v1"}, WithSecret("no-such-secret"))
	require.ErrorAs(t, err, &specErr)
	assert.Equal(t, "Secrets[0].Name", specErr.Field)
	assert.Zero(t, f.callCount("ServiceCreate"))
}

func TestStartReportsEveryMissingName(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	_, err := r.Start(context.Background(), JobSpec{Image: "app:v1"},
		WithSecret("db-password"), WithSecret("no-such-secret"), WithSecret("nor-this"), WithConfig("no-such-config", "/c"), WithNetwork("no-such-network"))
	assert.Equal(t, []string{"Secrets[1].Name", "Secrets[2].Name", "Configs[0].Name", "Networks[0].Name"}, specErrorFields(t, err))
	assert.Zero(t, f.callCount("ServiceCreate"))
}

func TestStartRefusesATakenName(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	f.createErr = cerrdefs.ErrConflict.WithMessage("name conflicts with an existing object")
	_, err := r.Start(context.Background(), JobSpec{Image: "app:v1", Name: "nightly-backup"})
	var specErr *SpecError
	require.ErrorAs(t, err, &specErr)
	assert.Equal(t, "Name", specErr.Field)
	assert.False(t, errors.Is(err, ErrNotSwarmManager))
}

func TestStartMapsSecretNamesToIDs(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	job := startJob(t, context.Background(), r, "job1", WithSecret("db-password"), WithKeep())
	require.Len(t, f.created, 1)
	refs := f.created[0].Spec.TaskTemplate.ContainerSpec.Secrets
	require.Len(t, refs, 1)
	assert.Equal(t, "sec-1", refs[0].SecretID)
	assert.Equal(t, "db-password", refs[0].File.Name)
	assert.Equal(t, "svc-job1", job.ServiceID())
}
