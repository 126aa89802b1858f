package oneshot

import (
	"bytes"
	"context"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
)

// fakeEngine is a scripted engine for unit tests: a swarm of services whose
// tasks the test sets, task logs modelled as the engine keeps them
// (engineLog), an event stream the test feeds, and a record of the calls
// oneshot made. Every change the test makes wakes the Runner's poll, as an
// event would: the tests never wait for a poll's timer.
type fakeEngine struct {
	mu       sync.Mutex
	services map[string]swarm.Service
	tasks    map[string][]swarm.Task // by service ID
	nodes    []swarm.Node
	networks []network.Summary
	logs     map[string]*engineLog // by task ID
	calls    map[string]int
	created  []client.ServiceCreateOptions
	removed  []string
	updates  []swarm.ServiceSpec
	events   chan events.Message
	eventErr chan error
	// opened receives when an event stream is opened; parked when a job's
	// service is parked; creating when a create request arrives.
	opened, parked, creating chan string
	// createGate, if set, holds each create until it is closed; createErr
	// and removeErr, if set, are what those calls fail with, logErr what
	// a final log read fails with.
	createGate                   chan struct{}
	createErr, removeErr, logErr error
	// createdAnyway makes a failing create still make the service;
	// refuseName, if set, is a service name whose create fails as a name
	// already taken does.
	createdAnyway bool
	refuseName    string
	info          system.Info
	// changed and nodeChanged, set by newFakeRunner, wake the Runner's
	// poll, the latter reading the nodes again; polls tells when the
	// Runner's polls end.
	changed, nodeChanged func()
	polls                *pollWatch
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{
		services: map[string]swarm.Service{}, tasks: map[string][]swarm.Task{}, logs: map[string]*engineLog{},
		calls: map[string]int{}, events: make(chan events.Message, 16), eventErr: make(chan error, 1),
		opened: make(chan string, 16), parked: make(chan string, 256), creating: make(chan string, 256),
		nodes: []swarm.Node{{ID: "n1", Description: swarm.NodeDescription{Hostname: "node-1"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}}},
	}
}

func (f *fakeEngine) count(name string) {
	f.mu.Lock()
	f.calls[name]++
	f.mu.Unlock()
}

func (f *fakeEngine) callCount(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func (f *fakeEngine) wake() {
	if f.changed != nil {
		f.changed()
	}
}

// setTasks replaces the tasks of service id, keeping the never-running
// task of a parked service.
func (f *fakeEngine) setTasks(id string, tasks ...swarm.Task) {
	f.mu.Lock()
	for i := range tasks {
		tasks[i].ServiceID = id
	}
	for _, t := range f.tasks[id] {
		if parked(t) {
			tasks = append(tasks, t)
		}
	}
	f.tasks[id] = tasks
	f.mu.Unlock()
	f.wake()
}

// setNode sets the state of node n1 and tells the Runner as the node's
// event would (TestANodeEventMakesThePollReadTheNodes checks the event).
func (f *fakeEngine) setNode(state swarm.NodeState) {
	f.mu.Lock()
	f.nodes[0].Status.State = state
	f.mu.Unlock()
	if f.nodeChanged != nil {
		f.nodeChanged()
	}
}

// log returns task's log, made on first use with a clock of tick.
func (f *fakeEngine) log(taskID string) *engineLog {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.logs[taskID]
	if l == nil {
		l = newEngineLog(time.Microsecond)
		f.logs[taskID] = l
	}
	return l
}

func (f *fakeEngine) removedServices() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.removed)
}

func (f *fakeEngine) ServiceCreate(ctx context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	f.count("ServiceCreate")
	f.creating <- o.Spec.Name
	if f.createGate != nil {
		select {
		case <-f.createGate:
		case <-ctx.Done():
			return client.ServiceCreateResult{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil && !f.createdAnyway {
		return client.ServiceCreateResult{}, f.createErr
	}
	if o.Spec.Name == f.refuseName {
		return client.ServiceCreateResult{}, cerrdefs.ErrConflict.WithMessage("name conflicts with an existing object")
	}
	id := "svc-" + o.Spec.Name
	f.services[id] = swarm.Service{ID: id, Spec: o.Spec, Meta: swarm.Meta{Version: swarm.Version{Index: 1}}}
	f.created = append(f.created, o)
	return client.ServiceCreateResult{ID: id}, f.createErr
}

// service finds a service by ID or name. Called with f.mu held.
func (f *fakeEngine) service(idOrName string) (swarm.Service, bool) {
	if s, ok := f.services[idOrName]; ok {
		return s, true
	}
	for _, s := range f.services {
		if s.Spec.Name == idOrName {
			return s, true
		}
	}
	return swarm.Service{}, false
}

func (f *fakeEngine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	f.count("ServiceInspect")
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.service(id)
	if !ok {
		return client.ServiceInspectResult{}, cerrdefs.ErrNotFound
	}
	return client.ServiceInspectResult{Service: s}, nil
}

func (f *fakeEngine) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	f.count("ServiceList")
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []swarm.Service
	for _, s := range f.services {
		out = append(out, s)
	}
	return client.ServiceListResult{Items: out}, nil
}

// ServiceUpdate does what the swarm does with the two updates oneshot
// makes: a parking constraint shuts the running task down (the test says
// when it has ended) and adds a task that never runs; zero replicas drop
// that task.
func (f *fakeEngine) ServiceUpdate(_ context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	f.count("ServiceUpdate")
	f.mu.Lock()
	s, ok := f.services[id]
	if !ok {
		f.mu.Unlock()
		return client.ServiceUpdateResult{}, cerrdefs.ErrNotFound
	}
	if o.Version != s.Version {
		f.mu.Unlock()
		return client.ServiceUpdateResult{}, cerrdefs.ErrInvalidArgument.WithMessage("update out of sequence")
	}
	s.Spec, s.Version.Index = o.Spec, s.Version.Index+1
	f.services[id] = s
	f.updates = append(f.updates, o.Spec)
	park := o.Spec.TaskTemplate.Placement != nil && slices.Contains(o.Spec.TaskTemplate.Placement.Constraints, parkConstraint)
	tasks := f.tasks[id]
	if park && !slices.ContainsFunc(tasks, parked) {
		for i := range tasks {
			tasks[i].DesiredState = swarm.TaskStateShutdown
		}
		placeholder := swarm.Task{ID: "parked-" + id, ServiceID: id, Spec: o.Spec.TaskTemplate, Status: swarm.TaskStatus{State: swarm.TaskStatePending, Err: "no suitable node"}}
		tasks = append(tasks, placeholder)
	}
	if r := o.Spec.Mode.Replicated; r != nil && r.Replicas != nil && *r.Replicas == 0 {
		tasks = slices.DeleteFunc(tasks, parked)
	}
	f.tasks[id] = tasks
	f.mu.Unlock()
	if park {
		f.parked <- id
	}
	f.wake()
	return client.ServiceUpdateResult{}, nil
}

func (f *fakeEngine) ServiceRemove(_ context.Context, id string, _ client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	f.count("ServiceRemove")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removeErr != nil {
		return client.ServiceRemoveResult{}, f.removeErr
	}
	if _, ok := f.services[id]; !ok {
		return client.ServiceRemoveResult{}, cerrdefs.ErrNotFound
	}
	delete(f.services, id)
	delete(f.tasks, id)
	f.removed = append(f.removed, id)
	return client.ServiceRemoveResult{}, nil
}

// TaskList honours "service" filters the way the engine does, failing the
// whole list when one names a service that does not exist.
func (f *fakeEngine) TaskList(_ context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	f.count("TaskList")
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []swarm.Task
	for id := range o.Filters["service"] {
		if _, ok := f.services[id]; !ok {
			return client.TaskListResult{}, cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
		}
		out = append(out, f.tasks[id]...)
	}
	return client.TaskListResult{Items: out}, nil
}

// TaskLogs serves the task's log as the engine does (see engineLog): a
// follow streams it until the request is cancelled.
func (f *fakeEngine) TaskLogs(ctx context.Context, taskID string, o client.TaskLogsOptions) (client.TaskLogsResult, error) {
	f.count("TaskLogs")
	l := f.log(taskID)
	if !o.Follow {
		f.mu.Lock()
		err := f.logErr
		f.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(l.final())), nil
	}
	pr, pw := io.Pipe()
	go func() {
		l.serveFollow(ctx, pw)
		pw.CloseWithError(ctx.Err())
	}()
	return pr, nil
}

func (f *fakeEngine) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	f.count("NodeList")
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.NodeListResult{Items: slices.Clone(f.nodes)}, nil
}

func (f *fakeEngine) SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error) {
	return client.SecretListResult{Items: []swarm.Secret{{ID: "sec-1", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "db-password"}}}}}, nil
}

func (f *fakeEngine) ConfigList(context.Context, client.ConfigListOptions) (client.ConfigListResult, error) {
	return client.ConfigListResult{}, nil
}

func (f *fakeEngine) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.NetworkListResult{Items: slices.Clone(f.networks)}, nil
}

func (f *fakeEngine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: f.info}, nil
}

func (f *fakeEngine) Events(ctx context.Context, _ client.EventsListOptions) client.EventsResult {
	f.count("Events")
	msgs := make(chan events.Message)
	errs := make(chan error, 1)
	go func() {
		f.opened <- "events"
		for {
			select {
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			case err := <-f.eventErr:
				errs <- err
				return
			case m := <-f.events:
				select {
				case msgs <- m:
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				}
			}
		}
	}()
	return client.EventsResult{Messages: msgs, Err: errs}
}

// newFakeRunner returns a Runner on a fake engine and a fake clock.
func newFakeRunner(t *testing.T) (*Runner, *fakeEngine, *fakeClock) {
	t.Helper()
	f, c := newFakeEngine(), newFakeClock()
	r := &Runner{api: f, log: quietLogger, clock: c, inFlight: map[*Job]bool{}}
	r.watch = newWatcher(f, r.log, c)
	f.changed = r.watch.wakeUp
	f.polls = watchPolls(r)
	f.nodeChanged = func() {
		r.watch.markNodesStale()
		r.watch.wakeUp()
	}
	t.Cleanup(func() { closeOnTheClock(t, r, c) })
	return r, f, c
}

// closeOnTheClock closes r, moving the fake clock on until Close returns:
// the jobs a test left in flight are stopped, and their stops wait on the
// clock (the reaper's settling time, the stop's bound).
func closeOnTheClock(t *testing.T, r *Runner, c *fakeClock) {
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	for range 1000 {
		select {
		case <-closed:
			return
		case <-time.After(time.Millisecond):
			c.Advance(100 * time.Millisecond)
		}
	}
	t.Error("Close did not return")
}

// await returns what ch receives, failing the test if nothing comes for
// long: a bound for a test that is broken, never a pause that makes one
// pass.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		require.FailNow(t, "timed out waiting for "+what)
		var zero T
		return zero
	}
}
