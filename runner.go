package oneshot

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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
	ServiceUpdate(context.Context, string, client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	ServiceRemove(context.Context, string, client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	TaskList(context.Context, client.TaskListOptions) (client.TaskListResult, error)
	TaskLogs(context.Context, string, client.TaskLogsOptions) (client.TaskLogsResult, error)
	NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error)
	SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error)
	ConfigList(context.Context, client.ConfigListOptions) (client.ConfigListResult, error)
	// The secrets and configs made for one job (jobdata.go).
	SecretCreate(context.Context, client.SecretCreateOptions) (client.SecretCreateResult, error)
	SecretUpdate(context.Context, string, client.SecretUpdateOptions) (client.SecretUpdateResult, error)
	SecretRemove(context.Context, string, client.SecretRemoveOptions) (client.SecretRemoveResult, error)
	ConfigCreate(context.Context, client.ConfigCreateOptions) (client.ConfigCreateResult, error)
	ConfigUpdate(context.Context, string, client.ConfigUpdateOptions) (client.ConfigUpdateResult, error)
	ConfigRemove(context.Context, string, client.ConfigRemoveOptions) (client.ConfigRemoveResult, error)
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
	clock  clock
	watch  *watcher

	mu       sync.Mutex
	closed   bool
	inFlight map[*Job]bool
	running  sync.WaitGroup // the supervisors, and Starts under way

	presence presence // holds the leases of its long jobs (presence.go)
}

// NewRunner makes a Runner. Without WithClient, WithHost or WithContext it
// finds the engine as the docker CLI does, the first that is set winning:
// DOCKER_HOST (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for TLS), then
// the docker CLI context named by DOCKER_CONTEXT, then the current context
// of the docker CLI's configuration (`docker context use`, in
// $DOCKER_CONFIG or ~/.docker), then the local engine's socket. A host may
// be ssh://[USER@]HOST (reached through the ssh client). It negotiates the
// API version (1.41 and later) unless DOCKER_API_VERSION sets it.
func NewRunner(opts ...RunnerOption) (*Runner, error) {
	r := &Runner{log: slog.New(slog.DiscardHandler), clock: realClock{}}
	for _, opt := range opts {
		if err := opt(r); err != nil {
			if r.closer != nil {
				_ = r.closer.Close() // the clients WithHosts made
			}
			return nil, err
		}
	}
	if r.api == nil {
		c, closer, err := newEngineClient("", "") // engineconfig.go
		if err != nil {
			return nil, err
		}
		r.api, r.closer = c, closer
	}
	r.watch = newWatcher(r.api, r.log, r.clock)
	r.inFlight = map[*Job]bool{}
	return r, nil
}

// Close stops the Runner's jobs in flight, as a cancelled context would
// (their Wait returns a *StopError matching ErrRunnerClosed), waits until
// they have stopped and their services are gone, then stops the shared
// event stream and poll and closes the client NewRunner made (not one
// given with WithClient). A closed Runner starts no job.
func (r *Runner) Close() error {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	jobs := make([]*Job, 0, len(r.inFlight))
	for j := range r.inFlight {
		jobs = append(jobs, j)
	}
	r.mu.Unlock()
	if already {
		return nil
	}
	for _, j := range jobs {
		j.requestStop(stopReason{err: ErrRunnerClosed, by: "Runner.Close"})
	}
	r.running.Wait()
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
	const by = "the context given to Run"
	job, err := r.startJob(ctx, spec, opts, by)
	if err != nil {
		return nil, err
	}
	return job.wait(ctx, by)
}

// Start validates the spec, checks the secrets, configs and networks it
// names against the swarm, creates the job's service and starts its
// supervisor (see Job). Nothing is left on the swarm when it returns an
// error. The job is stopped when ctx is done, as exec.CommandContext's
// process is killed: once the create request is sent, Start sees it
// through and returns the Job, which its supervisor then stops at once.
func (r *Runner) Start(ctx context.Context, spec JobSpec, opts ...Option) (*Job, error) {
	return r.startJob(ctx, spec, opts, "the context given to Start")
}

// startJob is Start, with the words for whose context stops the job.
func (r *Runner) startJob(ctx context.Context, spec JobSpec, opts []Option, by string) (*Job, error) {
	spec, err := applyOptions(spec, opts)
	if err != nil {
		return nil, err
	}
	if !r.beginStart() {
		return nil, fmt.Errorf("oneshot: start job: %w", ErrRunnerClosed)
	}
	start := r.start
	if spec.manyTasks() {
		start = r.startGroup
	}
	job, err := start(ctx, spec, by)
	if err != nil {
		r.running.Done()
		return nil, err
	}
	return job, nil
}

func (r *Runner) start(ctx context.Context, spec JobSpec, by string) (*Job, error) {
	p, err := r.prepare(ctx, &spec)
	if err != nil {
		return nil, err
	}
	if err := r.createJobData(ctx, &spec, &p); err != nil {
		return nil, err
	}
	job, err := r.create(ctx, spec, p.name, p.ids, p.auth, by)
	if err != nil {
		return nil, joinErrors(err, r.removeStartData(&p))
	}
	if job.Attached() {
		// The job started before with the same key has data of its own.
		if err := r.removeStartData(&p); err != nil {
			r.log.Warn("oneshot: job data left behind", "job", p.name, "err", err)
		}
	}
	return job, nil
}

// prepared is what a job needs before its services can be created.
type prepared struct {
	name string
	ids  swarmIDs
	auth string
	// dataRun labels the secrets and configs made for this start of the
	// job (jobdata.go), if any.
	dataRun string
}

// prepare names the job and checks, against the swarm, what its spec
// names: nothing is created yet.
func (r *Runner) prepare(ctx context.Context, spec *JobSpec) (prepared, error) {
	p := prepared{name: spec.Name}
	switch {
	case p.name == "" && spec.IdempotencyKey != "":
		p.name = keyName(spec.IdempotencyKey)
	case p.name == "":
		p.name = uniqueName()
	}
	var err error
	if p.ids, err = r.resolve(ctx, spec); err != nil {
		return p, r.notStarted(ctx, p.name, "check the job's secrets, configs and networks", err)
	}
	if p.auth, err = spec.RegistryAuth.encode(); err != nil {
		return p, &SpecError{Field: "RegistryAuth", Problem: err.Error()}
	}
	return p, nil
}

// create creates the service of a job of one task, named name, and starts
// its supervisor. A job with an idempotency key whose service exists
// already is attached to instead.
func (r *Runner) create(ctx context.Context, spec JobSpec, name string, ids swarmIDs, auth, by string) (*Job, error) {
	for attempt := 0; ; attempt++ {
		started := r.clock.Now()
		r.watch.ensureRunning() // the event stream should be open before the task can end
		waiter := newWaiterID()
		svc := spec.serviceSpec(name, ids, started)
		svc.Annotations.Labels = withLease(svc.Annotations.Labels, waiter, started.Add(leaseTTL))
		id, err := r.createService(ctx, svc, auth)
		switch {
		case err == nil:
			r.log.Debug("oneshot: created job service", "service", name, "id", id, "image", spec.Image)
			job := r.newJob(spec, name, id, waiter, started)
			r.launch(ctx, job, by)
			return job, nil
		case !cerrdefs.IsConflict(err) && !cerrdefs.IsAlreadyExists(err):
			return nil, r.notStarted(ctx, name, "create the job's service", err)
		case spec.IdempotencyKey == "":
			return nil, &SpecError{Field: "Name", Problem: fmt.Sprintf("a service named %q already exists", name), Fix: "choose another name, or leave Name empty for a unique one"}
		}
		job, err := r.attachByKey(ctx, spec, name, by)
		if !errors.Is(err, ErrServiceNotFound) || attempt == keyRaceRetries {
			return job, err
		}
		// The job of that key was removed between the create and the
		// attach: it was over; start the job again.
	}
}

// keyRaceRetries bounds how often a Start with an idempotency key finds
// the job of its key gone between its create and its attach.
const keyRaceRetries = 3

// newJob makes the Job of a job of one task whose service is id, waited
// on by waiter.
func (r *Runner) newJob(spec JobSpec, name, id, waiter string, started time.Time) *Job {
	return &Job{runner: r, spec: spec, name: name, id: id, started: started, taskIndex: spec.taskIndex, waiter: waiter,
		stopping: make(chan struct{}), detaching: make(chan struct{}), done: make(chan struct{})}
}

// launch starts the supervisor of a job whose service exists.
func (r *Runner) launch(ctx context.Context, job *Job, by string) {
	jw := r.watch.add(job.id, !job.spec.Keep)
	r.register(job)
	job.watchForStop(ctx, by)
	job.holdLease()
	go job.supervise(jw)
}

// notStarted says why the job could not start: its context was done, or
// what the engine said, explained.
func (r *Runner) notStarted(ctx context.Context, name, doing string, err error) error {
	ctxErr := ctx.Err()
	switch {
	case ctxErr == nil:
		return r.explain(ctx, doing+" ("+name+")", err)
	case errors.Is(err, ctxErr):
		return fmt.Errorf("oneshot: job %s not started: %w", name, ctxErr)
	}
	// The engine's own error too: it may say a service is left behind.
	return fmt.Errorf("oneshot: job %s not started: %w; %s: %w", name, ctxErr, doing, err)
}

// watchForStop makes Start's context, the job's timeout and a Runner
// being closed stop the job.
func (j *Job) watchForStop(ctx context.Context, by string) {
	j.release = append(j.release, context.AfterFunc(ctx, func() { j.requestStop(contextStop(ctx, by)) }))
	if d := j.spec.Timeout; d > 0 {
		j.stopAfter(d, fmt.Sprintf("its timeout of %s", d))
	}
	if !j.deadline.IsZero() {
		j.stopAfter(j.deadline.Sub(j.clock().Now()), fmt.Sprintf("its timeout of %s", j.timeout))
	}
	j.release = append(j.release, func() bool { j.stopRenewing(); return true })
}

// stopAfter stops the job d from now, for the reason by says.
func (j *Job) stopAfter(d time.Duration, by string) {
	t := j.clock().AfterFunc(max(d, 0), func() {
		j.requestStop(stopReason{err: context.DeadlineExceeded, by: by})
	})
	j.release = append(j.release, t.Stop)
}

// beginStart counts a Start under way, unless the Runner is closed.
func (r *Runner) beginStart() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.running.Add(1)
	return true
}

// register notes a job in flight; one started while Close runs is stopped.
func (r *Runner) register(j *Job) {
	r.mu.Lock()
	r.inFlight[j] = true
	closing := r.closed
	r.mu.Unlock()
	if closing {
		j.requestStop(stopReason{err: ErrRunnerClosed, by: "Runner.Close"})
	}
}

// unregister notes that a job is no longer in flight: its supervisor is
// finishing.
func (r *Runner) unregister(j *Job) {
	r.mu.Lock()
	delete(r.inFlight, j)
	r.mu.Unlock()
}

// explain turns an engine error into one that says what to do, diagnosing
// an engine that is unreachable or not a swarm manager.
func (r *Runner) explain(ctx context.Context, doing string, err error) error {
	var spec *SpecError
	if errors.As(err, &spec) || ctx.Err() != nil {
		return err
	}
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("oneshot: %s: cannot reach the Docker engine (is it running? is DOCKER_HOST, the docker context or WithHost right?): %w", doing, err)
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
func uniqueName() string { return "oneshot-" + randomHex(6) }

// keyName is the name of the job of an idempotency key: the swarm's
// unique service names make sure two Starts with one key make one job.
func keyName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "oneshot-key-" + hex.EncodeToString(sum[:12])
}

// newWaiterID names a waiter's lease (waiters.go).
func newWaiterID() string { return randomHex(6) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
