package oneshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	gone     []string // tasks of removed services
	// onUpdate, if set, is told of each service update.
	onUpdate func(swarm.ServiceSpec)
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
	// removeFails, if set, is how many removes fail with removeErr before
	// they pass again (all fail if unset); removedAnyway makes a failing
	// remove still remove, as a call whose answer was lost may.
	removeFails   int
	removedAnyway bool
	// inspectErr, if set, is what the next inspectFails service inspects
	// fail with.
	inspectErr   error
	inspectFails int
	// cutReads, if set, are how the next final reads are cut short or refused, in
	// order; cut receives each one's task.
	cutReads []cutRead
	cut      chan string
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
	wakeMu               sync.Mutex // guards changed once Runners run
	polls                *pollWatch
	// hangTaskList makes the next TaskList hang until its caller gives
	// up; hung says it did.
	hangTaskList atomic.Bool
	hung         chan string
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{
		services: map[string]swarm.Service{}, tasks: map[string][]swarm.Task{}, logs: map[string]*engineLog{},
		calls: map[string]int{}, events: make(chan events.Message, 16), eventErr: make(chan error, 1),
		opened: make(chan string, 16), parked: make(chan string, 256), creating: make(chan string, 256), hung: make(chan string, 16),
		cut:   make(chan string, 16),
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
	f.wakeMu.Lock()
	changed := f.changed
	f.wakeMu.Unlock()
	if changed != nil {
		changed()
	}
}

// alsoWake makes a change wake r too.
func (f *fakeEngine) alsoWake(r *Runner) {
	f.wakeMu.Lock()
	defer f.wakeMu.Unlock()
	wakeOthers := f.changed
	f.changed = func() { wakeOthers(); r.watch.wakeUp() }
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
	if _, taken := f.service(o.Spec.Name); taken || o.Spec.Name == f.refuseName {
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
	if f.inspectFails > 0 {
		f.inspectFails--
		return client.ServiceInspectResult{}, f.inspectErr
	}
	s, ok := f.service(id)
	if !ok {
		return client.ServiceInspectResult{}, cerrdefs.ErrNotFound
	}
	return client.ServiceInspectResult{Service: s}, nil
}

// ServiceList honours "label" filters (KEY or KEY=VALUE, all must match)
// the way the engine does.
func (f *fakeEngine) ServiceList(_ context.Context, o client.ServiceListOptions) (client.ServiceListResult, error) {
	f.count("ServiceList")
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []swarm.Service
	for _, s := range f.services {
		if hasLabels(s.Spec.Labels, o.Filters["label"]) {
			out = append(out, s)
		}
	}
	return client.ServiceListResult{Items: out}, nil
}

// hasLabels reports whether labels match every filter, KEY or KEY=VALUE.
func hasLabels(labels map[string]string, filters map[string]bool) bool {
	for filter := range filters {
		key, value, withValue := strings.Cut(filter, "=")
		if got, ok := labels[key]; !ok || withValue && got != value {
			return false
		}
	}
	return true
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
	onUpdate := f.onUpdate
	f.mu.Unlock()
	if onUpdate != nil {
		onUpdate(o.Spec)
	}
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
	if _, ok := f.services[id]; !ok {
		return client.ServiceRemoveResult{}, cerrdefs.ErrNotFound
	}
	err := f.removeErr
	if err != nil && f.removeFails > 0 {
		if f.removeFails--; f.removeFails == 0 {
			f.removeErr = nil // the next removes pass
		}
	}
	if err == nil || f.removedAnyway {
		f.removeLocked(id)
	}
	return client.ServiceRemoveResult{}, err
}

// removeLocked removes the service id as the swarm does. Called with f.mu
// held.
func (f *fakeEngine) removeLocked(id string) {
	delete(f.services, id)
	for _, t := range f.tasks[id] {
		f.gone = append(f.gone, t.ID) // the swarm deletes the tasks, and their logs
	}
	delete(f.tasks, id)
	f.removed = append(f.removed, id)
}

// TaskList honours "service" filters the way the engine does, failing the
// whole list when one names a service that does not exist.
func (f *fakeEngine) TaskList(ctx context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	f.count("TaskList")
	if f.hangTaskList.CompareAndSwap(true, false) {
		f.hung <- "TaskList"
		<-ctx.Done() // an engine that never answers: only the caller's bound ends it
		return client.TaskListResult{}, ctx.Err()
	}
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
	f.mu.Lock()
	gone := slices.Contains(f.gone, taskID)
	f.mu.Unlock()
	if gone {
		return nil, cerrdefs.ErrNotFound.WithMessage("task " + taskID + " not found")
	}
	l := f.log(taskID)
	if !o.Follow {
		f.mu.Lock()
		err := f.logErr
		var cut *cutRead
		if len(f.cutReads) > 0 {
			cut, f.cutReads = &f.cutReads[0], f.cutReads[1:]
		}
		f.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if cut != nil {
			defer func() { f.cut <- taskID }()
			if cut.refused != nil {
				return nil, cut.refused
			}
			return io.NopCloser(bytes.NewReader(l.finalCut(*cut))), nil
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

// SecretList lists the secrets made for jobs when asked by label
// (jobdata_fake_test.go), else the swarm's one secret.
func (f *fakeEngine) SecretList(_ context.Context, o client.SecretListOptions) (client.SecretListResult, error) {
	if _, byLabel := o.Filters["label"]; byLabel {
		return f.jobData().secretList(o.Filters)
	}
	return client.SecretListResult{Items: []swarm.Secret{{ID: "sec-1", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "db-password"}}}}}, nil
}

// ConfigList lists the configs made for jobs when asked by label, else
// none.
func (f *fakeEngine) ConfigList(_ context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	if _, byLabel := o.Filters["label"]; byLabel {
		return f.jobData().configList(o.Filters)
	}
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

// await returns what ch receives, failing the test (with every goroutine's
// stack, to say where it hung) if nothing comes for long: a bound for a
// test that is broken, never a pause that makes one pass.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		buf := make([]byte, 1<<20)
		t.Logf("every goroutine, to say where the test hung:\n%s", buf[:runtime.Stack(buf, true)])
		require.FailNow(t, "timed out waiting for "+what)
		var zero T
		return zero
	}
}

// The secrets and configs made for jobs (jobdata.go), kept by the fake
// engine in a store of their own.

// fakeDataStore holds a fake engine's secrets and configs made for jobs.
type fakeDataStore struct {
	engine *fakeEngine
	mu     sync.Mutex
	items  map[string]*fakeDataItem // by ID
	seq    int
	// now dates the items (the test's fake clock); failCreate, if set,
	// fails the create of the item with that swarm name's suffix (the
	// item's Name in the spec), made anyway when madeAnyway is set;
	// listErr fails the lists by label.
	now        func() time.Time
	failCreate string
	madeAnyway bool
	listErr    error
	calls      map[string]int
	// updated receives the kind of each item updated (a lease renewed),
	// made the name of each item made.
	updated, made chan string
}

type fakeDataItem struct {
	kind, id string
	meta     swarm.Annotations
	data     []byte
	version  uint64
	created  time.Time
}

var fakeDataStores sync.Map // *fakeEngine -> *fakeDataStore

// jobData is the fake engine's store of data made for jobs.
func (f *fakeEngine) jobData() *fakeDataStore {
	v, _ := fakeDataStores.LoadOrStore(f, &fakeDataStore{engine: f, items: map[string]*fakeDataItem{}, now: time.Now, calls: map[string]int{},
		updated: make(chan string, 256), made: make(chan string, 256)})
	return v.(*fakeDataStore)
}

func (d *fakeDataStore) create(kind string, meta swarm.Annotations, data []byte) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[kind+"Create"]++
	failed := d.failCreate != "" && strings.HasSuffix(meta.Name, "-"+d.failCreate)
	if failed && !d.madeAnyway {
		return "", cerrdefs.ErrInvalidArgument.WithMessage(kind + " create refused")
	}
	for _, it := range d.items {
		if it.kind == kind && it.meta.Name == meta.Name {
			return "", cerrdefs.ErrAlreadyExists.WithMessage(kind + " " + meta.Name + " already exists")
		}
	}
	d.seq++
	id := fmt.Sprintf("%s-%d", kind, d.seq)
	d.items[id] = &fakeDataItem{kind: kind, id: id, meta: meta, data: slices.Clone(data), version: 1, created: d.now()}
	d.made <- meta.Name
	if failed {
		return "", errors.New("connection reset by peer")
	}
	return id, nil
}

// inUse names a service that references the item, as the swarm refuses
// to remove it then. Called with d.mu held.
func (d *fakeDataStore) inUse(it *fakeDataItem) string {
	f := d.engine
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.services {
		c := s.Spec.TaskTemplate.ContainerSpec
		if c == nil {
			continue
		}
		for _, ref := range c.Secrets {
			if it.kind == "secret" && ref.SecretID == it.id {
				return s.Spec.Name
			}
		}
		for _, ref := range c.Configs {
			if it.kind == "config" && ref.ConfigID == it.id {
				return s.Spec.Name
			}
		}
	}
	return ""
}

func (d *fakeDataStore) remove(kind, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[kind+"Remove"]++
	it, ok := d.items[id]
	if !ok || it.kind != kind {
		return cerrdefs.ErrNotFound.WithMessage(kind + " " + id + " not found")
	}
	if user := d.inUse(it); user != "" {
		return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s '%s' is in use by the following service: %s", kind, it.meta.Name, user))
	}
	delete(d.items, id)
	return nil
}

func (d *fakeDataStore) update(kind, id string, version uint64, meta swarm.Annotations) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[kind+"Update"]++
	it, ok := d.items[id]
	switch {
	case !ok || it.kind != kind:
		return cerrdefs.ErrNotFound
	case it.version != version:
		return cerrdefs.ErrInvalidArgument.WithMessage("update out of sequence")
	case meta.Name != it.meta.Name:
		return cerrdefs.ErrInvalidArgument.WithMessage("only updates to Labels are allowed")
	}
	it.meta.Labels, it.version = maps.Clone(meta.Labels), it.version+1
	d.updated <- kind
	return nil
}

// matching lists the items of kind that filters select, as the engine
// does: every label (KEY or KEY=VALUE) and a name prefix.
func (d *fakeDataStore) matching(kind string, filters client.Filters) ([]*fakeDataItem, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[kind+"List"]++
	if d.listErr != nil {
		return nil, d.listErr
	}
	var out []*fakeDataItem
	for _, it := range d.items {
		if it.kind == kind && labelsMatch(it.meta.Labels, filters["label"]) && namePrefixMatch(it.meta.Name, filters["name"]) {
			c := *it
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *fakeDataItem) int { return strings.Compare(a.id, b.id) })
	return out, nil
}

func labelsMatch(labels map[string]string, want map[string]bool) bool {
	for kv := range want {
		k, v, hasValue := strings.Cut(kv, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}

func namePrefixMatch(name string, prefixes map[string]bool) bool {
	if len(prefixes) == 0 {
		return true
	}
	for p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func (d *fakeDataStore) secretList(filters client.Filters) (client.SecretListResult, error) {
	items, err := d.matching("secret", filters)
	var out []swarm.Secret
	for _, it := range items {
		out = append(out, swarm.Secret{ID: it.id, Meta: swarm.Meta{Version: swarm.Version{Index: it.version}, CreatedAt: it.created},
			Spec: swarm.SecretSpec{Annotations: it.meta}}) // the engine never lists a secret's data
	}
	return client.SecretListResult{Items: out}, err
}

func (d *fakeDataStore) configList(filters client.Filters) (client.ConfigListResult, error) {
	items, err := d.matching("config", filters)
	var out []swarm.Config
	for _, it := range items {
		out = append(out, swarm.Config{ID: it.id, Meta: swarm.Meta{Version: swarm.Version{Index: it.version}, CreatedAt: it.created},
			Spec: swarm.ConfigSpec{Annotations: it.meta, Data: slices.Clone(it.data)}})
	}
	return client.ConfigListResult{Items: out}, err
}

// all returns every item of the store, by ID.
func (d *fakeDataStore) all() []fakeDataItem {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []fakeDataItem
	for _, it := range d.items {
		out = append(out, *it)
	}
	slices.SortFunc(out, func(a, b fakeDataItem) int { return strings.Compare(a.id, b.id) })
	return out
}

func (d *fakeDataStore) callCount(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[name]
}

func (f *fakeEngine) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	id, err := f.jobData().create("secret", o.Spec.Annotations, o.Spec.Data)
	return client.SecretCreateResult{ID: id}, err
}

func (f *fakeEngine) SecretUpdate(_ context.Context, id string, o client.SecretUpdateOptions) (client.SecretUpdateResult, error) {
	return client.SecretUpdateResult{}, f.jobData().update("secret", id, o.Version.Index, o.Spec.Annotations)
}

func (f *fakeEngine) SecretRemove(_ context.Context, id string, _ client.SecretRemoveOptions) (client.SecretRemoveResult, error) {
	return client.SecretRemoveResult{}, f.jobData().remove("secret", id)
}

func (f *fakeEngine) ConfigCreate(_ context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	id, err := f.jobData().create("config", o.Spec.Annotations, o.Spec.Data)
	return client.ConfigCreateResult{ID: id}, err
}

func (f *fakeEngine) ConfigUpdate(_ context.Context, id string, o client.ConfigUpdateOptions) (client.ConfigUpdateResult, error) {
	return client.ConfigUpdateResult{}, f.jobData().update("config", id, o.Version.Index, o.Spec.Annotations)
}

func (f *fakeEngine) ConfigRemove(_ context.Context, id string, _ client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	return client.ConfigRemoveResult{}, f.jobData().remove("config", id)
}
