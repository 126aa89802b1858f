package oneshot

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// JobInfo describes a job service on the swarm: one in flight, kept, or
// left by a process that died, as `oneshot ps` lists them.
type JobInfo struct {
	// Name and ServiceID name the job's service; Image is what it runs.
	Name, ServiceID, Image string
	// Job names the job of several tasks that the service is task
	// TaskIndex of; empty for a job of one task.
	Job       string
	TaskIndex int
	// State is the state of the job's latest task ("" before it has one),
	// NodeID and NodeName where it is, ExitCode its container's exit code
	// once it has one (else -1).
	State            TaskState
	NodeID, NodeName string
	ExitCode         int
	// CreatedAt is when the job's service was created.
	CreatedAt time.Time
	// Kept says the service stays once the job is over (WithKeep);
	// Stopped that the job was stopped (its service is parked).
	Kept, Stopped bool
	// IdempotencyKey is the key the job was started with, if any.
	IdempotencyKey string
	// Waiters counts the processes whose lease on the job is live, or held
	// by their Runner's presence: they wait on it, and Prune leaves it
	// alone.
	Waiters int
	// Labels are the service's labels.
	Labels map[string]string
}

// Jobs lists the job services on the swarm (those with the LabelManaged
// label), oldest first: four requests (the services, their tasks, the
// nodes, the Runners' presences), whatever their number.
func (r *Runner) Jobs(ctx context.Context) ([]JobInfo, error) {
	jobs, err := r.jobs(ctx)
	if cerrdefs.IsNotFound(err) { // a service went between the two lists
		jobs, err = r.jobs(ctx)
	}
	return jobs, err
}

func (r *Runner) jobs(ctx context.Context) ([]JobInfo, error) {
	services, err := r.api.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", LabelManaged+"=true")})
	if err != nil {
		return nil, r.explain(ctx, "list job services", err)
	}
	if len(services.Items) == 0 {
		return nil, nil
	}
	byID := make(client.Filters)
	for _, s := range services.Items {
		byID.Add("service", s.ID)
	}
	tasks, err := r.api.TaskList(ctx, client.TaskListOptions{Filters: byID})
	if cerrdefs.IsNotFound(err) {
		return nil, err
	}
	if err != nil {
		return nil, r.explain(ctx, "list the tasks of job services", err)
	}
	names := map[string]string{}
	if nodes, err := r.api.NodeList(ctx, client.NodeListOptions{}); err == nil {
		for _, n := range nodes.Items {
			names[n.ID] = n.Description.Hostname
		}
	}
	byService := map[string][]swarm.Task{}
	for _, t := range tasks.Items {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	held, _, _ := r.heldWaiters(ctx) // none known: only the leases on the services count
	now := r.clock.Now()
	var out []JobInfo
	for _, s := range services.Items {
		out = append(out, jobInfo(s, byService[s.ID], names, now, held))
	}
	slices.SortFunc(out, func(a, b JobInfo) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// jobInfo describes the job of service s, whose tasks are tasks; held
// lists the waiters that live presences hold.
func jobInfo(s swarm.Service, tasks []swarm.Task, nodeNames map[string]string, now time.Time, held map[string]bool) JobInfo {
	labels := s.Spec.Labels
	info := JobInfo{Name: s.Spec.Name, ServiceID: s.ID, CreatedAt: s.CreatedAt, ExitCode: -1, Job: labels[LabelJob],
		Kept: labels[LabelKeep] == "true", IdempotencyKey: labels[LabelIdempotencyKey],
		Waiters: len(liveWaiters(labels, now, "", held)), Labels: maps.Clone(labels),
		Stopped: slices.ContainsFunc(tasks, parked)}
	info.TaskIndex, _ = strconv.Atoi(labels[LabelTaskIndex])
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
		info.Image = cs.Image
	}
	sortByCreation(tasks)
	if own := jobTasks(tasks); len(own) > 0 {
		latest := own[len(own)-1]
		info.State, info.NodeID, info.NodeName = TaskState(latest.Status.State), latest.NodeID, nodeNames[latest.NodeID]
		info.ExitCode = exitCode(&latest)
	}
	return info
}

func sortByCreation(tasks []swarm.Task) {
	slices.SortStableFunc(tasks, func(a, b swarm.Task) int { return a.CreatedAt.Compare(b.CreatedAt) })
}

// Logs writes what the job's latest task has printed so far, by the job
// service's name or ID, to stdout and stderr, kept apart: `docker service
// logs` for a job, without changing anything of it (Attach follows a job
// and collects its Result).
func (r *Runner) Logs(ctx context.Context, nameOrID string, stdout, stderr io.Writer) error {
	found, err := r.api.ServiceInspect(ctx, nameOrID, client.ServiceInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		return r.notAJob(ctx, nameOrID)
	case err != nil:
		return r.explain(ctx, "read the logs of job "+nameOrID, err)
	}
	tasks, err := r.api.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", found.Service.ID)})
	if err != nil {
		return r.explain(ctx, "list the tasks of job "+nameOrID, err)
	}
	sortByCreation(tasks.Items)
	own := jobTasks(tasks.Items)
	if len(own) == 0 || !hadContainer(&own[len(own)-1]) {
		return nil // nothing printed yet
	}
	return r.copyLog(ctx, own[len(own)-1].ID, stdout, stderr)
}

// copyLog copies a task's log as it is now to stdout and stderr.
func (r *Runner) copyLog(ctx context.Context, taskID string, stdout, stderr io.Writer) error {
	rc, err := r.api.TaskLogs(ctx, taskID, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		return fmt.Errorf("oneshot: read the log of task %s: %w", shortID(taskID), err)
	}
	defer rc.Close()
	var writeErr error
	split := &entrySplitter{to: func(e entry) {
		w := stdout
		if e.stderr {
			w = stderr
		}
		if writeErr == nil && w != nil {
			_, writeErr = w.Write(e.text)
		}
	}}
	_, err = io.Copy(writerFunc(split.write), rc)
	switch {
	case err != nil:
		return fmt.Errorf("oneshot: read the log of task %s: %w", shortID(taskID), err)
	case split.err != nil:
		return fmt.Errorf("oneshot: read the log of task %s: %w", shortID(taskID), split.err)
	}
	return writeErr
}

// writerFunc is an io.Writer that hands what it gets to a function that
// takes it all.
type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }
