package oneshot

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Attach returns a Job for a job that any process started (a service
// with the LabelManaged label, found by name or ID), using the default
// Runner; see Runner.Attach.
func Attach(ctx context.Context, nameOrID string, opts ...Option) (*Job, error) {
	r, err := defaultRunner()
	if err != nil {
		return nil, err
	}
	return r.Attach(ctx, nameOrID, opts...)
}

// Attach returns a Job for a job in flight that any process started, by
// its service's name or ID: a migration whose tool was killed, a job that
// `oneshot run --detach` left running. Its Wait streams the job's output
// from the beginning (WithOutputFromNow: from now on), returns the Result
// that Run would have returned, and removes the service as Run would,
// unless the job is kept or another process still waits on it (the last
// waiter removes it). A job that already ended gives its Result, as long
// as its service exists (Prune removes a finished job nobody waits on).
//
// The job is stopped when ctx is done, when its own timeout (WithTimeout
// at its start) expires, and when the timeout given here expires; Detach
// lets it go instead. Only options about waiting apply: WithStdout,
// WithStderr, WithOutputLimit, WithStatusFunc, WithKeep, WithTimeout and
// WithOutputFromNow; any other is an error. A job of several tasks has a
// service per task, NAME-INDEX: attach to each.
func (r *Runner) Attach(ctx context.Context, nameOrID string, opts ...Option) (*Job, error) {
	spec, err := attachSpec(opts)
	if err != nil {
		return nil, err
	}
	if !r.beginStart() {
		return nil, fmt.Errorf("oneshot: attach to job %s: %w", nameOrID, ErrRunnerClosed)
	}
	job, err := r.attach(ctx, nameOrID, spec, "the context given to Attach", func(swarm.Service) error { return nil })
	if err != nil {
		r.running.Done()
		return nil, err
	}
	return job, nil
}

// attachSpec applies Attach's options: only those about waiting.
func attachSpec(opts []Option) (JobSpec, error) {
	var spec JobSpec
	for _, opt := range opts {
		if err := opt(&spec); err != nil {
			return spec, err
		}
	}
	rest := spec
	rest.Stdout, rest.Stderr, rest.OutputLimit, rest.OnStatus, rest.Keep, rest.Timeout, rest.outputFromNow = nil, nil, 0, nil, false, 0, false
	if !reflect.DeepEqual(rest, JobSpec{}) {
		return spec, &SpecError{Field: "options", Problem: "Attach takes only options about waiting for the job, not about what it runs",
			Fix: "use WithStdout, WithStderr, WithOutputLimit, WithStatusFunc, WithKeep, WithTimeout or WithOutputFromNow"}
	}
	if spec.Timeout < 0 {
		return spec, &SpecError{Field: "Timeout", Problem: fmt.Sprintf("negative (%s)", spec.Timeout), Fix: "use 0 for none"}
	}
	return spec, nil
}

// attachByKey attaches to the job that Start found under its idempotency
// key's name, with the writers and options it was given.
func (r *Runner) attachByKey(ctx context.Context, spec JobSpec, name, by string) (*Job, error) {
	sameKey := func(s swarm.Service) error {
		if key := s.Spec.Labels[LabelIdempotencyKey]; key != spec.IdempotencyKey {
			return &SpecError{Field: "Name", Problem: fmt.Sprintf("a service named %q exists that was not started with this idempotency key", name),
				Fix: "choose another name, or leave Name empty: the key then names the job"}
		}
		return nil
	}
	waitOnly := JobSpec{Stdout: spec.Stdout, Stderr: spec.Stderr, OutputLimit: spec.OutputLimit, OnStatus: spec.OnStatus,
		Keep: spec.Keep, Timeout: spec.Timeout}
	return r.attach(ctx, name, waitOnly, by, sameKey)
}

// attach finds the job's service, checks it, adds this waiter's lease to
// it and starts the Job's supervisor.
func (r *Runner) attach(ctx context.Context, nameOrID string, spec JobSpec, by string, check func(swarm.Service) error) (*Job, error) {
	found, err := r.api.ServiceInspect(ctx, nameOrID, client.ServiceInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		return nil, r.notAJob(ctx, nameOrID)
	case err != nil:
		return nil, r.explain(ctx, "attach to job "+nameOrID, err)
	}
	s := found.Service
	if s.Spec.Labels[LabelManaged] != "true" {
		return nil, fmt.Errorf("oneshot: attach to %s: the service is not a oneshot job (it has no %s label); FromService runs its settings once", nameOrID, LabelManaged)
	}
	if err := check(s); err != nil {
		return nil, err
	}
	spec = specOfJobService(s, spec)
	waiter, now := newWaiterID(), r.clock.Now()
	r.watch.ensureRunning()
	if err := r.setLease(ctx, s.ID, waiter, now.Add(leaseTTL)); err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("oneshot: attach to job %s: it ended and its service was removed: %w", s.Spec.Name, ErrServiceNotFound)
		}
		return nil, r.explain(ctx, "attach to job "+s.Spec.Name, err)
	}
	job := r.newJob(spec, s.Spec.Name, s.ID, waiter, now)
	job.attached = true
	job.deadline, _ = time.Parse(time.RFC3339Nano, s.Spec.Labels[LabelDeadline])
	job.timeout = s.Spec.Labels[LabelTimeout]
	r.log.Debug("oneshot: attached to job", "service", s.Spec.Name, "id", s.ID)
	r.launch(ctx, job, by)
	return job, nil
}

// notAJob says why there is no job service of that name or ID to attach
// to, naming the tasks' services of a job of several.
func (r *Runner) notAJob(ctx context.Context, nameOrID string) error {
	filters := make(client.Filters).Add("label", LabelJob+"="+nameOrID)
	if list, err := r.api.ServiceList(ctx, client.ServiceListOptions{Filters: filters}); err == nil && len(list.Items) > 0 {
		return fmt.Errorf("oneshot: attach to %s: a job of %d tasks in flight has one service per task, %s-0 to %s-%d: attach to each: %w",
			nameOrID, len(list.Items), nameOrID, nameOrID, len(list.Items)-1, ErrServiceNotFound)
	}
	return fmt.Errorf("oneshot: attach to %s: no job service of that name or ID (it may have ended and been removed): %w", nameOrID, ErrServiceNotFound)
}

// specOfJobService is what waiting on the job needs of the spec it was
// started with, read off its service, with the waiter's own options.
func specOfJobService(s swarm.Service, wait JobSpec) JobSpec {
	spec := wait
	spec.Name = s.Spec.Name
	labels := s.Spec.Labels
	spec.Keep = wait.Keep || labels[LabelKeep] == "true"
	spec.IdempotencyKey = labels[LabelIdempotencyKey]
	spec.ScheduleTimeout, _ = time.ParseDuration(labels[LabelScheduleTimeout])
	spec.taskIndex, _ = strconv.Atoi(labels[LabelTaskIndex])
	spec.group = labels[LabelJob]
	spec.usesData = hasJobData(labels)
	if rp := s.Spec.TaskTemplate.RestartPolicy; rp != nil && rp.Condition == swarm.RestartPolicyConditionOnFailure && rp.MaxAttempts != nil {
		spec.Retries = int(*rp.MaxAttempts)
	}
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
		spec.Image = cs.Image
		if cs.StopGracePeriod != nil {
			spec.StopGracePeriod = *cs.StopGracePeriod
		}
	}
	return spec
}
