package oneshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// engine is the part of the Docker API that oneshot uses; *client.Client
// implements it, and unit tests give a fake.
type engine interface {
	ServiceCreate(context.Context, client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	ServiceInspect(context.Context, string, client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error)
	ServiceRemove(context.Context, string, client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	TaskList(context.Context, client.TaskListOptions) (client.TaskListResult, error)
	TaskLogs(context.Context, string, client.TaskLogsOptions) (client.TaskLogsResult, error)
	NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error)
	SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error)
	ConfigList(context.Context, client.ConfigListOptions) (client.ConfigListResult, error)
	NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error)
	Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error)
	Events(context.Context, client.EventsListOptions) client.EventsResult
}

// Runner runs jobs on one swarm. It holds one Docker client and the waiting
// machinery that all its jobs share: one engine event stream and one task
// poll, however many jobs are in flight. A Runner is safe for concurrent
// use; make one per swarm and Close it when done.
type Runner struct {
	api    engine
	closer io.Closer // the client NewRunner made, if it made one
	log    *slog.Logger
	watch  *watcher
}

// NewRunner makes a Runner. Without WithClient it talks to the engine named
// by the environment (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH,
// DOCKER_API_VERSION), negotiating the API version (1.41 and later).
func NewRunner(opts ...RunnerOption) (*Runner, error) {
	r := &Runner{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if err := opt(r); err != nil {
			return nil, err
		}
	}
	if r.api == nil {
		c, err := client.New(client.FromEnv)
		if err != nil {
			return nil, fmt.Errorf("oneshot: make Docker client from the environment: %w", err)
		}
		r.api, r.closer = c, c
	}
	r.watch = newWatcher(r.api, r.log)
	return r, nil
}

// Close stops the Runner's shared event stream and poll, and closes the
// client NewRunner made (not one given with WithClient). Wait for the jobs
// in flight first: their Wait returns ErrRunnerClosed, and their services
// can no longer be removed through a client that Close closed.
func (r *Runner) Close() error {
	r.watch.close()
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

var defaultRunner = sync.OnceValues(func() (*Runner, error) { return NewRunner() })

// Run starts a job, waits for it and removes its service: Start, then Wait.
// See the package-level Run for what it returns.
func (r *Runner) Run(ctx context.Context, spec JobSpec, opts ...Option) (*Result, error) {
	job, err := r.Start(ctx, spec, opts...)
	if err != nil {
		return nil, err
	}
	return job.Wait(ctx)
}

// Start validates the spec, checks the secrets, configs and networks it names
// against the swarm, and creates the job's service. Nothing is created when
// it returns an error. The job stops when ctx is done or its Timeout expires.
func (r *Runner) Start(ctx context.Context, spec JobSpec, opts ...Option) (*Job, error) {
	spec, err := applyOptions(spec, opts)
	if err != nil {
		return nil, err
	}
	ids, err := r.resolve(ctx, &spec)
	if err != nil {
		return nil, r.explain(ctx, "check the job's secrets, configs and networks", err)
	}
	auth, err := spec.RegistryAuth.encode()
	if err != nil {
		return nil, &SpecError{Field: "RegistryAuth", Problem: err.Error()}
	}
	name := spec.Name
	if name == "" {
		name = uniqueName()
	}
	started := time.Now()
	r.watch.ensureRunning() // the event stream should be open before the task can end
	created, err := r.api.ServiceCreate(ctx, client.ServiceCreateOptions{
		Spec:                spec.serviceSpec(name, ids, started),
		EncodedRegistryAuth: auth,
	})
	if err != nil {
		if cerrdefs.IsConflict(err) || cerrdefs.IsAlreadyExists(err) {
			return nil, &SpecError{Field: "Name", Problem: fmt.Sprintf("a service named %q already exists", name), Fix: "choose another name, or leave Name empty for a unique one"}
		}
		return nil, r.explain(ctx, "create the job's service", err)
	}
	r.log.Debug("oneshot: created job service", "service", name, "id", created.ID, "image", spec.Image, "warnings", created.Warnings)
	job := &Job{runner: r, spec: spec, name: name, id: created.ID, started: started, watch: r.watch.add(created.ID)}
	job.ctx, job.cancel = jobContext(ctx, spec.Timeout)
	return job, nil
}

// jobContext is done when ctx is done or the job's own timeout expires; it
// outlives Start's return, as exec.CommandContext's context does.
func jobContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeoutCause(ctx, timeout, errJobTimeout)
	}
	return context.WithCancel(ctx)
}

// errJobTimeout is the cause of a job context whose Timeout expired.
var errJobTimeout = errors.New("job timeout")

// explain turns an engine error into one that says what to do, diagnosing
// an engine that is unreachable or not a swarm manager.
func (r *Runner) explain(ctx context.Context, doing string, err error) error {
	var spec *SpecError
	if errors.As(err, &spec) || ctx.Err() != nil {
		return err
	}
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("oneshot: %s: cannot reach the Docker engine (is it running? is DOCKER_HOST right?): %w", doing, err)
	}
	if !cerrdefs.IsUnavailable(err) && !cerrdefs.IsFailedPrecondition(err) {
		return fmt.Errorf("oneshot: %s: %w", doing, err)
	}
	info, infoErr := r.api.Info(ctx, client.InfoOptions{})
	if infoErr != nil {
		return fmt.Errorf("oneshot: %s: %w", doing, err)
	}
	sw := info.Info.Swarm
	switch {
	case sw.LocalNodeState != "active":
		return fmt.Errorf("oneshot: %s: %w: the engine %q is in no swarm (state %q); run `docker swarm init` on it for a single-node swarm, or point DOCKER_HOST at a manager: %v",
			doing, ErrNotSwarmManager, info.Info.Name, sw.LocalNodeState, err)
	case !sw.ControlAvailable:
		var managers []string
		for _, p := range sw.RemoteManagers {
			managers = append(managers, p.Addr)
		}
		return fmt.Errorf("oneshot: %s: %w: the engine %q is a swarm worker; point DOCKER_HOST at a manager (%s): %v",
			doing, ErrNotSwarmManager, info.Info.Name, strings.Join(managers, ", "), err)
	}
	return fmt.Errorf("oneshot: %s: %w", doing, err)
}

// uniqueName returns "oneshot-" and 12 random letters and digits.
func uniqueName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "oneshot-" + hex.EncodeToString(b[:])
}
