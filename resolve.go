package oneshot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// resolve finds the swarm IDs of the secrets, configs and networks a spec
// names, one list call per kind in use, so that a name that does not exist
// is a *SpecError before anything is created. Every missing name is
// reported (errors.Join), as Validate reports every problem.
func (r *Runner) resolve(ctx context.Context, spec *JobSpec) (swarmIDs, error) {
	var ids swarmIDs
	var secretErr, configErr, networkErr error
	if ids.secrets, secretErr = r.secretIDs(ctx, spec.Secrets); isEngineError(secretErr) {
		return ids, secretErr
	}
	if ids.configs, configErr = r.configIDs(ctx, spec.Configs); isEngineError(configErr) {
		return ids, configErr
	}
	if ids.networks, networkErr = r.networkIDs(ctx, spec.Networks); isEngineError(networkErr) {
		return ids, networkErr
	}
	return ids, joinFlat(secretErr, configErr, networkErr)
}

// joinFlat joins errs, and the errors of those that are joins themselves,
// into one flat join: the callers see one list of problems.
func joinFlat(errs ...error) error {
	var all []error
	for _, err := range errs {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			all = append(all, joined.Unwrap()...)
		} else if err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// isEngineError reports whether err is the engine's (a failed list call)
// rather than the spec's.
func isEngineError(err error) bool {
	var specErr *SpecError
	return err != nil && !errors.As(err, &specErr)
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
	var missing []error
	for i, ref := range refs {
		if ids[ref.Name] == "" {
			missing = append(missing, &SpecError{Field: fmt.Sprintf("Secrets[%d].Name", i), Problem: fmt.Sprintf("no secret named %q on the swarm", ref.Name),
				Fix: fmt.Sprintf("create it first, e.g. `printf %%s VALUE | docker secret create %s -`", ref.Name)})
		}
	}
	return ids, errors.Join(missing...)
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
	var missing []error
	for i, ref := range refs {
		if ids[ref.Name] == "" {
			missing = append(missing, &SpecError{Field: fmt.Sprintf("Configs[%d].Name", i), Problem: fmt.Sprintf("no config named %q on the swarm", ref.Name),
				Fix: fmt.Sprintf("create it first, e.g. `docker config create %s FILE`", ref.Name)})
		}
	}
	return ids, errors.Join(missing...)
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
	var problems []error
	for i, a := range attachments {
		id, err := findNetwork(list.Items, a.Name, fmt.Sprintf("Networks[%d].Name", i))
		if err != nil {
			problems = append(problems, err)
			continue
		}
		ids[a.Name] = id
	}
	return ids, errors.Join(problems...)
}

// findNetwork returns the ID of the swarm network named name, or whose ID
// is or starts with name.
func findNetwork(networks []network.Summary, name, field string) (string, error) {
	var matches []string
	for _, n := range networks {
		if n.Name == name || n.ID == name {
			if n.Scope != "swarm" {
				return "", &SpecError{Field: field, Problem: fmt.Sprintf("network %q is a %s network (driver %s), not a swarm network", name, n.Scope, n.Driver),
					Fix: "attach jobs to an overlay network, e.g. `docker network create -d overlay --attachable NAME`"}
			}
			return n.ID, nil
		}
		if strings.HasPrefix(n.ID, name) && n.Scope == "swarm" {
			matches = append(matches, n.ID)
		}
	}
	switch len(matches) {
	case 0:
		return "", &SpecError{Field: field, Problem: fmt.Sprintf("no swarm network named %q", name), Fix: fmt.Sprintf("create it first, e.g. `docker network create -d overlay --attachable %s`", name)}
	case 1:
		return matches[0], nil
	default:
		return "", &SpecError{Field: field, Problem: fmt.Sprintf("%q is the start of several network IDs", name), Fix: "give the network's name or full ID"}
	}
}
