package oneshot

import (
	"context"
	"fmt"
	"strings"

	"github.com/moby/moby/client"
)

// resolve finds the swarm IDs of the secrets, configs and networks a spec
// names, one list call per kind in use, so that a name that does not exist
// is a *SpecError before anything is created.
func (r *Runner) resolve(ctx context.Context, spec *JobSpec) (swarmIDs, error) {
	var ids swarmIDs
	var err error
	if ids.secrets, err = r.secretIDs(ctx, spec.Secrets); err != nil {
		return ids, err
	}
	if ids.configs, err = r.configIDs(ctx, spec.Configs); err != nil {
		return ids, err
	}
	ids.networks, err = r.networkIDs(ctx, spec.Networks)
	return ids, err
}

func (r *Runner) secretIDs(ctx context.Context, refs []SecretRef) (map[string]string, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	filters := make(client.Filters)
	for _, ref := range refs {
		filters.Add("name", ref.Name)
	}
	list, err := r.api.SecretList(ctx, client.SecretListOptions{Filters: filters})
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, s := range list.Items {
		ids[s.Spec.Name] = s.ID
	}
	for i, ref := range refs {
		if ids[ref.Name] == "" {
			return nil, &SpecError{Field: fmt.Sprintf("Secrets[%d].Name", i), Problem: fmt.Sprintf("no secret named %q on the swarm", ref.Name),
				Fix: fmt.Sprintf("create it first, e.g. `printf %%s VALUE | docker secret create %s -`", ref.Name)}
		}
	}
	return ids, nil
}

func (r *Runner) configIDs(ctx context.Context, refs []ConfigRef) (map[string]string, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	filters := make(client.Filters)
	for _, ref := range refs {
		filters.Add("name", ref.Name)
	}
	list, err := r.api.ConfigList(ctx, client.ConfigListOptions{Filters: filters})
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, c := range list.Items {
		ids[c.Spec.Name] = c.ID
	}
	for i, ref := range refs {
		if ids[ref.Name] == "" {
			return nil, &SpecError{Field: fmt.Sprintf("Configs[%d].Name", i), Problem: fmt.Sprintf("no config named %q on the swarm", ref.Name),
				Fix: fmt.Sprintf("create it first, e.g. `docker config create %s FILE`", ref.Name)}
		}
	}
	return ids, nil
}

// networkIDs accepts a network's exact name or its ID (or a unique prefix
// of it), and only swarm-scoped networks: a local bridge cannot reach a task.
func (r *Runner) networkIDs(ctx context.Context, attachments []NetworkAttachment) (map[string]string, error) {
	if len(attachments) == 0 {
		return nil, nil
	}
	list, err := r.api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for i, a := range attachments {
		field := fmt.Sprintf("Networks[%d].Name", i)
		var matches []string
		for _, n := range list.Items {
			if n.Name == a.Name || n.ID == a.Name {
				matches = []string{n.ID}
				if n.Scope != "swarm" {
					return nil, &SpecError{Field: field, Problem: fmt.Sprintf("network %q is a %s network (driver %s), not a swarm network", a.Name, n.Scope, n.Driver),
						Fix: "attach jobs to an overlay network, e.g. `docker network create -d overlay --attachable NAME`"}
				}
				break
			}
			if strings.HasPrefix(n.ID, a.Name) && n.Scope == "swarm" {
				matches = append(matches, n.ID)
			}
		}
		switch len(matches) {
		case 0:
			return nil, &SpecError{Field: field, Problem: fmt.Sprintf("no swarm network named %q", a.Name), Fix: fmt.Sprintf("create it first, e.g. `docker network create -d overlay --attachable %s`", a.Name)}
		case 1:
			ids[a.Name] = matches[0]
		default:
			return nil, &SpecError{Field: field, Problem: fmt.Sprintf("%q is the start of several network IDs", a.Name), Fix: "give the network's name or full ID"}
		}
	}
	return ids, nil
}
