package oneshot

import (
	"context"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// globalNodes returns the IDs of the nodes that a global job runs on: those
// ready and active when it starts that match its constraints, in the order
// of their hostnames (then IDs), which numbers the tasks.
func (r *Runner) globalNodes(ctx context.Context, constraints []string) ([]string, error) {
	list, err := r.api.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, err
	}
	nodes := slices.Clone(list.Items)
	slices.SortFunc(nodes, func(a, b swarm.Node) int {
		if c := strings.Compare(a.Description.Hostname, b.Description.Hostname); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var ids []string
	for _, n := range nodes {
		if n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive && matchesAll(n, constraints) {
			ids = append(ids, n.ID)
		}
	}
	if len(ids) == 0 {
		return nil, &TaskError{Kind: ErrUnschedulable, Err: "no ready, active node matches the job's constraints " + strings.Join(constraints, ", ")}
	}
	return ids, nil
}

// matchesAll says the node meets every constraint, as the swarm reads
// them: ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE, values compared without
// regard to case.
func matchesAll(n swarm.Node, constraints []string) bool {
	for _, c := range constraints {
		if !matches(n, c) {
			return false
		}
	}
	return true
}

func matches(n swarm.Node, constraint string) bool {
	op := "=="
	key, want, ok := strings.Cut(constraint, "==")
	if !ok {
		op = "!="
		key, want, _ = strings.Cut(constraint, "!=")
	}
	got, known := nodeAttribute(n, strings.TrimSpace(key))
	equal := known && strings.EqualFold(got, strings.TrimSpace(want))
	if op == "==" {
		return equal
	}
	return !equal
}

// nodeAttribute is the value of a constraint's attribute on the node, and
// whether the node has it.
func nodeAttribute(n swarm.Node, key string) (string, bool) {
	lower := strings.ToLower(key)
	switch {
	case lower == "node.id":
		return n.ID, true
	case lower == "node.hostname":
		return n.Description.Hostname, true
	case lower == "node.role":
		return string(n.Spec.Role), true
	case lower == "node.platform.os":
		return n.Description.Platform.OS, true
	case lower == "node.platform.arch":
		return n.Description.Platform.Architecture, true
	case strings.HasPrefix(lower, "node.labels."):
		v, ok := n.Spec.Labels[key[len("node.labels."):]]
		return v, ok
	case strings.HasPrefix(lower, "engine.labels."):
		v, ok := n.Description.Engine.Labels[key[len("engine.labels."):]]
		return v, ok
	}
	return "", false
}
