package oneshot

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// LabelStackNamespace is the label that `docker stack deploy` puts on a
// stack's services, and by which `docker stack deploy --prune` and `docker
// stack rm` find them. FromService and FromCompose never give it to a job.
const LabelStackNamespace = "com.docker.stack.namespace"

// FromService returns a JobSpec made from the deployed service nameOrID on
// the default Runner's swarm; see Runner.FromService.
func FromService(ctx context.Context, nameOrID string) (JobSpec, error) {
	r, err := defaultRunner()
	if err != nil {
		return JobSpec{}, err
	}
	return r.FromService(ctx, nameOrID)
}

// FromService returns a JobSpec that runs a job as the deployed service
// nameOrID would run its task, from the service's own spec as the swarm
// holds it: the job then has the service's environment, networks, secrets
// and configs, which is what a migration or an admin command of a stack
// needs ("docker stack run"). Options given to Run or Start after it
// override what it took, e.g. WithCommand("migrate", "up").
//
// Taken over: the image as deployed (with its pinned digest when the swarm
// holds one), entrypoint and command, env, user, working directory,
// networks (without the service's aliases, so that the job does not answer
// for the service), secrets and configs (same targets, owners and modes),
// mounts, placement constraints and preferences, CPU and memory limits and
// reservations, the log driver (when the engine can serve its logs: else
// the job uses the node's default), the stop grace period, and the
// service's and its containers' own labels.
//
// Not taken over: mode and replicas, published ports and endpoint mode,
// update and rollback configs, healthcheck, restart policy (a job runs
// once; see WithRetries), the labels that `docker stack deploy` adds
// (com.docker.stack.*: a job that carried LabelStackNamespace would be
// removed by a concurrent `docker stack deploy --prune`), and the
// container settings that a JobSpec has no field for (hostname, DNS and
// extra hosts, capabilities, sysctls, ulimits, init, stop signal, TTY). The
// job is labelled LabelFromService=NAME instead.
//
// A service that does not exist gives an error matching ErrServiceNotFound;
// a setting that a job cannot take (a Windows named pipe mount, say) a
// *SourceError naming it.
func (r *Runner) FromService(ctx context.Context, nameOrID string) (JobSpec, error) {
	found, err := r.api.ServiceInspect(ctx, nameOrID, client.ServiceInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return JobSpec{}, fmt.Errorf("oneshot: %w: %q (see `docker service ls`)", ErrServiceNotFound, nameOrID)
	}
	if err != nil {
		return JobSpec{}, r.explain(ctx, "inspect the service "+nameOrID, err)
	}
	names, err := r.networkNames(ctx, found.Service.Spec.TaskTemplate.Networks)
	if err != nil {
		return JobSpec{}, err
	}
	return specFromService(found.Service.Spec, names)
}

// networkNames maps the IDs of the networks a service is attached to to
// their names, so that the JobSpec reads as the user wrote the stack. It
// asks the engine only when there is a network to name.
func (r *Runner) networkNames(ctx context.Context, attached []swarm.NetworkAttachmentConfig) (map[string]string, error) {
	if len(attached) == 0 {
		return nil, nil
	}
	list, err := r.api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, r.explain(ctx, "list the networks", err)
	}
	names := make(map[string]string, len(list.Items))
	for _, n := range list.Items {
		names[n.ID] = n.Name
	}
	return names, nil
}

// specFromService maps a service's spec to the JobSpec of a job that runs
// as its task would; networkNames maps network IDs to names (an ID without
// a name is kept as it is: Start accepts both).
func specFromService(svc swarm.ServiceSpec, networkNames map[string]string) (JobSpec, error) {
	task := svc.TaskTemplate
	c := task.ContainerSpec
	if c == nil {
		return JobSpec{}, &SourceError{Source: svc.Name, Key: "TaskTemplate.ContainerSpec", Problem: "the service runs no container (a plugin or network attachment service)", Fix: "choose a service that runs a container"}
	}
	spec := JobSpec{
		Image:           c.Image,
		Entrypoint:      cloneOrNil(c.Command),
		Command:         cloneOrNil(c.Args),
		Env:             cloneOrNil(c.Env),
		User:            c.User,
		Workdir:         c.Dir,
		Labels:          ownLabels(svc.Labels, c.Labels),
		Secrets:         secretsFromService(c.Secrets),
		Configs:         configsFromService(c.Configs),
		Networks:        networksFromService(task.Networks, networkNames),
		LogDriver:       logDriverFromService(task.LogDriver),
		fromService:     svc.Name,
		StopGracePeriod: durationOrZero(c.StopGracePeriod),
	}
	mounts, err := mountsFromService(svc.Name, c.Mounts)
	if err != nil {
		return JobSpec{}, err
	}
	spec.Mounts = mounts
	spec.Constraints, spec.PlacementPreferences = placementFromService(task.Placement)
	spec.Resources = resourcesFromService(task.Resources)
	return spec, nil
}

// stackLabelPrefix starts the labels that `docker stack deploy` adds to a
// stack's services (LabelStackNamespace, com.docker.stack.image).
const stackLabelPrefix = "com.docker.stack."

// ownLabels are the service's and its containers' labels without the
// stack's labels and oneshot's own (a service made by oneshot has them;
// the job gets its own).
func ownLabels(service, container map[string]string) map[string]string {
	labels := map[string]string{}
	for _, from := range []map[string]string{container, service} {
		for k, v := range from {
			if !strings.HasPrefix(k, stackLabelPrefix) && !strings.HasPrefix(k, "oneshot.") {
				labels[k] = v
			}
		}
	}
	if len(labels) == 0 {
		return nil
	}
	return labels
}

func secretsFromService(refs []*swarm.SecretReference) []SecretRef {
	var out []SecretRef
	for _, ref := range refs {
		s := SecretRef{Name: ref.SecretName}
		if f := ref.File; f != nil {
			s.Target, s.UID, s.GID, s.Mode = f.Name, f.UID, f.GID, f.Mode
		}
		out = append(out, s)
	}
	return out
}

// configsFromService takes the configs given as files; a runtime config
// (a Windows credential spec) has no file and no meaning for a job.
func configsFromService(refs []*swarm.ConfigReference) []ConfigRef {
	var out []ConfigRef
	for _, ref := range refs {
		if ref.File == nil {
			continue
		}
		f := ref.File
		out = append(out, ConfigRef{Name: ref.ConfigName, Target: f.Name, UID: f.UID, GID: f.GID, Mode: f.Mode})
	}
	return out
}

// networksFromService attaches the job to the service's networks without
// the service's aliases: with them, the job would answer for the service.
func networksFromService(attached []swarm.NetworkAttachmentConfig, names map[string]string) []NetworkAttachment {
	var out []NetworkAttachment
	for _, n := range attached {
		name := n.Target
		if known, ok := names[n.Target]; ok {
			name = known
		}
		out = append(out, NetworkAttachment{Name: name})
	}
	return out
}

// logDriverFromService takes the service's log driver when the engine can
// serve its logs; with any other, the job keeps the node's default driver
// so that its output can be read at all.
func logDriverFromService(d *swarm.Driver) LogDriver {
	if d == nil || !readableLogDrivers[d.Name] {
		return LogDriver{}
	}
	return LogDriver{Name: d.Name, Options: maps.Clone(d.Options)}
}

func mountsFromService(service string, mounts []mount.Mount) ([]Mount, error) {
	var out []Mount
	for i, m := range mounts {
		jm := Mount{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case mount.TypeVolume, "":
			jm.Type = MountVolume
			if o := m.VolumeOptions; o != nil && o.Subpath != "" {
				return nil, &SourceError{Source: service, Key: fmt.Sprintf("TaskTemplate.ContainerSpec.Mounts[%d].VolumeOptions.Subpath", i),
					Problem: "a volume's subpath, which a job cannot have yet: it would mount the whole volume", Fix: "override the mounts with options after FromService"}
			}
			if o := m.VolumeOptions; o != nil {
				jm.NoCopy, jm.VolumeLabels = o.NoCopy, maps.Clone(o.Labels)
				if o.DriverConfig != nil {
					jm.VolumeDriver, jm.VolumeDriverOptions = o.DriverConfig.Name, maps.Clone(o.DriverConfig.Options)
				}
			}
		case mount.TypeBind:
			jm.Type = MountBind
			if m.BindOptions != nil {
				jm.BindPropagation = string(m.BindOptions.Propagation)
			}
		case mount.TypeTmpfs:
			jm.Type = MountTmpfs
			if m.TmpfsOptions != nil {
				jm.TmpfsSize = m.TmpfsOptions.SizeBytes
			}
		default:
			return nil, &SourceError{Source: service, Key: fmt.Sprintf("TaskTemplate.ContainerSpec.Mounts[%d]", i),
				Problem: fmt.Sprintf("a %s mount, which a job cannot have", m.Type), Fix: "override the mounts with options after FromService, or run the job without it"}
		}
		out = append(out, jm)
	}
	return out, nil
}

func placementFromService(p *swarm.Placement) (constraints, preferences []string) {
	if p == nil {
		return nil, nil
	}
	for _, pref := range p.Preferences {
		if pref.Spread != nil {
			preferences = append(preferences, "spread="+pref.Spread.SpreadDescriptor)
		}
	}
	return cloneOrNil(p.Constraints), preferences
}

func resourcesFromService(r *swarm.ResourceRequirements) Resources {
	var out Resources
	if r == nil {
		return out
	}
	if l := r.Limits; l != nil {
		out.CPULimit, out.MemoryLimit = float64(l.NanoCPUs)/1e9, l.MemoryBytes
	}
	if res := r.Reservations; res != nil {
		out.CPUReservation, out.MemoryReservation = float64(res.NanoCPUs)/1e9, res.MemoryBytes
	}
	return out
}

func durationOrZero(d *time.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return *d
}

func cloneOrNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}
