package oneshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// PrunedService is a job service that Prune removed (or, with PruneDryRun,
// would remove).
type PrunedService struct {
	ID, Name string
	// CreatedAt is when the service was created.
	CreatedAt time.Time
	// State is the final state of the job's last task.
	State TaskState
}

type pruneConfig struct {
	olderThan time.Duration
	dryRun    bool
	labels    []string
}

// Prune removes the job services that oneshot created on this swarm (found
// by the LabelManaged label) whose tasks have all ended: services kept with
// WithKeep, or left by a process that died before its Wait. Jobs that still
// run, jobs this Runner is waiting for, and jobs a live process waits on
// (its lease on the service, or its Runner's presence, renewed every
// minute, has not expired) are left alone: a process that died holds its
// job at most 3 minutes. It returns what it removed; services it could not
// remove are reported in the error. It removes the expired presences of
// Runners too.
//
// It also removes the secrets and configs made for jobs (WithSecretData,
// WithConfigData) that no service of their job uses any more: those of
// the services it removed, and those a process left that died while
// starting its job or after removing its service, once their lease
// (LabelDataLease, a few minutes) has expired, so that the data of a job
// being started is never taken. It logs them at info level; PruneLabel,
// PruneOlderThan and PruneDryRun apply to them too.
func (r *Runner) Prune(ctx context.Context, opts ...PruneOption) ([]PrunedService, error) {
	var cfg pruneConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	filters := make(client.Filters).Add("label", LabelManaged+"=true").Add("label", cfg.labels...)
	services, err := r.api.ServiceList(ctx, client.ServiceListOptions{Filters: filters})
	if err != nil {
		return nil, r.explain(ctx, "list job services", err)
	}
	held, expired, err := r.heldWaiters(ctx)
	if err != nil {
		return nil, r.explain(ctx, "list the presences of Runners", err)
	}
	pruned, err := r.pruneServices(ctx, services.Items, cfg, held)
	return pruned, joinErrors(err, r.pruneJobData(ctx, cfg, prunedOwners(services.Items, pruned)), r.prunePresences(ctx, expired, cfg.dryRun))
}

// prunePresences removes the presences of Runners that have expired
// (presence.go): their processes died, or lost the swarm for minutes.
func (r *Runner) prunePresences(ctx context.Context, expired []swarm.Config, dryRun bool) error {
	var errs []error
	for _, c := range expired {
		if dryRun {
			continue
		}
		if _, err := r.api.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("oneshot: remove the expired presence %s: %w", c.Spec.Name, err))
			continue
		}
		r.log.Info("oneshot: pruned the expired presence of a Runner", "config", c.Spec.Name)
	}
	return errors.Join(errs...)
}

// pruneServices removes the services among services that Prune may remove.
func (r *Runner) pruneServices(ctx context.Context, services []swarm.Service, cfg pruneConfig, held map[string]bool) ([]PrunedService, error) {
	candidates := r.pruneCandidates(services, cfg.olderThan, held)
	if len(candidates) == 0 {
		return nil, nil
	}
	byID := make(client.Filters)
	for _, s := range candidates {
		byID.Add("service", s.ID)
	}
	tasks, err := r.api.TaskList(ctx, client.TaskListOptions{Filters: byID})
	if err != nil {
		return nil, fmt.Errorf("oneshot: list the tasks of job services: %w", err)
	}
	return r.removeFinished(ctx, candidates, tasks.Items, cfg.dryRun)
}

// pruneCandidates keeps the services old enough, not in flight here, and
// that no live process waits on (waiters.go): held lists the waiters that
// live presences hold.
func (r *Runner) pruneCandidates(services []swarm.Service, olderThan time.Duration, held map[string]bool) []swarm.Service {
	var out []swarm.Service
	now := r.clock.Now()
	for _, s := range services {
		if now.Sub(s.CreatedAt) < olderThan || r.watch.watching(s.ID) || len(liveWaiters(s.Spec.Labels, now, "", held)) > 0 {
			continue
		}
		out = append(out, s)
	}
	return out
}

// removeFinished removes each service all of whose tasks have ended.
func (r *Runner) removeFinished(ctx context.Context, services []swarm.Service, tasks []swarm.Task, dryRun bool) ([]PrunedService, error) {
	byService := map[string][]swarm.Task{}
	for _, t := range tasks {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	var pruned []PrunedService
	var errs []error
	for _, s := range services {
		last, finished := lastTaskIfFinished(byService[s.ID])
		if !finished {
			continue
		}
		if !dryRun {
			if _, err := r.api.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("oneshot: remove job service %s: %w", s.Spec.Name, err))
				continue
			}
		}
		pruned = append(pruned, PrunedService{ID: s.ID, Name: s.Spec.Name, CreatedAt: s.CreatedAt, State: TaskState(last.Status.State)})
	}
	return pruned, errors.Join(errs...)
}

// lastTaskIfFinished returns the newest task and whether every task ended
// (a service with no task yet has not). The task that a stopped job's
// service makes in place of its own never runs: it does not count.
func lastTaskIfFinished(tasks []swarm.Task) (swarm.Task, bool) {
	var last swarm.Task
	tasks = jobTasks(tasks)
	for _, t := range tasks {
		if !TaskState(t.Status.State).Terminal() {
			return last, false
		}
		if t.CreatedAt.After(last.CreatedAt) {
			last = t
		}
	}
	return last, len(tasks) > 0
}
