package oneshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// fakeEngine is a scripted engine for unit tests: a swarm of services whose
// tasks the test sets, an event stream the test feeds, and a record of the
// calls oneshot made.
type fakeEngine struct {
	mu       sync.Mutex
	services map[string]swarm.ServiceSpec
	tasks    map[string][]swarm.Task // by service ID
	nodes    []swarm.Node
	logs     map[string]*muxStream // by task ID
	calls    map[string]int
	created  []client.ServiceCreateOptions
	removed  []string
	events   chan events.Message
	eventErr chan error
	// removeCtxErr records the context error seen by ServiceRemove.
	removeCtxErr []error
	// listedServices records how many services each TaskList asked for.
	listedServices []int
	// createErr, if set, is what ServiceCreate fails with; info is what
	// Info returns.
	createErr error
	info      system.Info
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{
		services: map[string]swarm.ServiceSpec{}, tasks: map[string][]swarm.Task{}, logs: map[string]*muxStream{},
		calls: map[string]int{}, events: make(chan events.Message, 16), eventErr: make(chan error, 1),
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

// setTasks replaces the tasks of service id.
func (f *fakeEngine) setTasks(id string, tasks ...swarm.Task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range tasks {
		tasks[i].ServiceID = id
	}
	f.tasks[id] = tasks
}

// setLogs sets task's log: an entry on stdout, then one on stderr.
func (f *fakeEngine) setLogs(taskID, stdout, stderr string) {
	var log muxStream
	log.stdout([]byte(stdout))
	log.stderr([]byte(stderr))
	f.mu.Lock()
	f.logs[taskID] = &log
	f.mu.Unlock()
}

// fakeMuxFrame frames p as the engine's multiplexed log stream does: an
// 8-byte header (stream, three zero bytes, big-endian length), then p.
func fakeMuxFrame(stream stdcopy.StdType, p string) []byte {
	if p == "" {
		return nil
	}
	header := []byte{byte(stream), 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(header[4:], uint32(len(p)))
	return append(header, p...)
}

func (f *fakeEngine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	f.count("ServiceCreate")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return client.ServiceCreateResult{}, f.createErr
	}
	id := "svc-" + o.Spec.Name
	f.services[id] = o.Spec
	f.created = append(f.created, o)
	return client.ServiceCreateResult{ID: id}, nil
}

func (f *fakeEngine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	f.count("ServiceInspect")
	f.mu.Lock()
	defer f.mu.Unlock()
	spec, ok := f.services[id]
	if !ok {
		return client.ServiceInspectResult{}, cerrdefs.ErrNotFound
	}
	return client.ServiceInspectResult{Service: swarm.Service{ID: id, Spec: spec}}, nil
}

func (f *fakeEngine) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	f.count("ServiceList")
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []swarm.Service
	for id, spec := range f.services {
		out = append(out, swarm.Service{ID: id, Spec: spec})
	}
	return client.ServiceListResult{Items: out}, nil
}

func (f *fakeEngine) ServiceRemove(ctx context.Context, id string, _ client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	f.count("ServiceRemove")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeCtxErr = append(f.removeCtxErr, ctx.Err())
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
	f.listedServices = append(f.listedServices, len(o.Filters["service"]))
	var out []swarm.Task
	for id := range o.Filters["service"] {
		if _, ok := f.services[id]; !ok {
			return client.TaskListResult{}, cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
		}
		out = append(out, f.tasks[id]...)
	}
	return client.TaskListResult{Items: out}, nil
}

// TaskLogs serves the task's log as the engine does, with timestamps, since
// the time asked for; a follow ends with the log.
func (f *fakeEngine) TaskLogs(_ context.Context, taskID string, o client.TaskLogsOptions) (client.TaskLogsResult, error) {
	f.count("TaskLogs")
	f.mu.Lock()
	defer f.mu.Unlock()
	log, ok := f.logs[taskID]
	if !ok || !o.Timestamps {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	var since time.Time
	if o.Since != "" {
		var err error
		if since, err = time.Parse(time.RFC3339Nano, o.Since); err != nil {
			return nil, err
		}
	}
	return io.NopCloser(bytes.NewReader(log.served(since, 0))), nil
}

func (f *fakeEngine) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	f.count("NodeList")
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.NodeListResult{Items: append([]swarm.Node(nil), f.nodes...)}, nil
}

func (f *fakeEngine) SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error) {
	return client.SecretListResult{Items: []swarm.Secret{{ID: "sec-1", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "db-password"}}}}}, nil
}

func (f *fakeEngine) ConfigList(context.Context, client.ConfigListOptions) (client.ConfigListResult, error) {
	return client.ConfigListResult{}, nil
}

func (f *fakeEngine) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	return client.NetworkListResult{}, nil
}

func (f *fakeEngine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: f.info}, nil
}

func (f *fakeEngine) Events(ctx context.Context, _ client.EventsListOptions) client.EventsResult {
	f.count("Events")
	msgs := make(chan events.Message)
	errs := make(chan error, 1)
	go func() {
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
