package oneshot

import (
	"context"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNodeMatchesConstraints(t *testing.T) {
	n := swarm.Node{ID: "abc", Spec: swarm.NodeSpec{Role: swarm.NodeRoleWorker, Annotations: swarm.Annotations{Labels: map[string]string{"zone": "eu-1"}}},
		Description: swarm.NodeDescription{Hostname: "Worker-1", Platform: swarm.Platform{OS: "linux", Architecture: "x86_64"},
			Engine: swarm.EngineDescription{Labels: map[string]string{"gpu": "true"}}}}
	cases := []struct {
		constraint string
		want       bool
	}{
		{"node.id==abc", true},
		{"node.id!=abc", false},
		{"node.hostname==worker-1", true},
		{"node.role==worker", true},
		{"node.role == manager", false},
		{"node.role!=manager", true},
		{"node.platform.os==linux", true},
		{"node.platform.arch==x86_64", true},
		{"node.labels.zone==eu-1", true},
		{"node.labels.zone!=eu-1", false},
		{"node.labels.rack==r1", false},
		{"node.labels.rack!=r1", true},
		{"engine.labels.gpu==true", true},
		{"node.unknown==x", false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, matches(n, tc.constraint), tc.constraint)
	}
	assert.True(t, matchesAll(n, nil))
	assert.False(t, matchesAll(n, []string{"node.role==worker", "node.labels.zone==us"}))
}

func TestGlobalNodesAreTheReadyOnesThatMatch(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	node := func(id, host string, state swarm.NodeState, availability swarm.NodeAvailability, role swarm.NodeRole) swarm.Node {
		return swarm.Node{ID: id, Description: swarm.NodeDescription{Hostname: host}, Status: swarm.NodeStatus{State: state},
			Spec: swarm.NodeSpec{Availability: availability, Role: role}}
	}
	f.nodes = []swarm.Node{
		node("n3", "c", swarm.NodeStateReady, swarm.NodeAvailabilityActive, swarm.NodeRoleWorker),
		node("n1", "a", swarm.NodeStateReady, swarm.NodeAvailabilityActive, swarm.NodeRoleManager),
		node("n2", "b", swarm.NodeStateDown, swarm.NodeAvailabilityActive, swarm.NodeRoleWorker),
		node("n4", "d", swarm.NodeStateReady, swarm.NodeAvailabilityDrain, swarm.NodeRoleWorker),
	}
	ids, err := r.globalNodes(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"n1", "n3"}, ids, "ready and active, in the order of their hostnames")

	ids, err = r.globalNodes(context.Background(), []string{"node.role==worker"})
	require.NoError(t, err)
	assert.Equal(t, []string{"n3"}, ids)

	_, err = r.globalNodes(context.Background(), []string{"node.labels.none==x"})
	assert.ErrorIs(t, err, ErrUnschedulable)
}
