package oneshot

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// How the shared task poll paces itself: it polls at minPoll while anything
// changes or an event wakes it, backs off by pollBackoff while nothing
// changes, up to maxPoll.
const (
	minPoll     = 20 * time.Millisecond
	maxPoll     = time.Second
	pollBackoff = 1.5
	// nodeRefresh is how old the node list may get while jobs run.
	nodeRefresh = 2 * time.Second
	// nodeLossConfirm is how long a node must stay down before its job is
	// lost, and managerRecoveryGrace how long after the manager is back
	// from an outage (a restart, a fail-over): until its workers
	// reconnect, it sees them down.
	nodeLossConfirm      = 2 * time.Second
	managerRecoveryGrace = 15 * time.Second
	// idleLinger is how long the poll and the event stream stay up with no
	// job in flight, so that jobs run one after another reuse them.
	idleLinger = 10 * time.Second
	// maxEventRetry caps the pause before the event stream is reopened.
	maxEventRetry = 2 * time.Second
	// After an event, the task's new state reaches the manager a few tens
	// of milliseconds later: the poll looks every burstPoll for burstLen.
	burstPoll = 10 * time.Millisecond
	burstLen  = 300 * time.Millisecond
)

// watcher is a Runner's waiting machinery, shared by all its jobs: one task
// poll (one TaskList call per tick covering every job in flight) and one
// engine event stream that wakes the poll at once when a job's container
// dies on this node, a node changes state or a service is removed. The task
// list is the truth; events only make it be read sooner. Each job's
// supervisor (supervise.go) reads its own snapshot of it.
type watcher struct {
	api   engine
	log   *slog.Logger
	clock clock

	wake  chan struct{} // buffered: poll now
	burst atomic.Bool   // with the wake: keep polling fast for burstLen
	polls atomic.Uint64 // numbers the polls, counting those started
	// afterPoll, if set, is called after each poll: tests wait on it.
	afterPoll func()

	mu     sync.Mutex
	jobs   map[string][]*jobWatch // by service ID: one per Job of this Runner waiting on it
	nodes  map[string]nodeInfo    // by node ID
	nodeAt time.Time              // when nodes was read; zero: read it again
	// downSince holds when each node was first seen lost, until it is not.
	downSince map[string]time.Time
	// pollFailing says the last poll failed; backAt is when a poll last
	// succeeded after failing: the manager was back.
	pollFailing bool
	backAt      time.Time
	stop        context.CancelFunc // stops the loops; nil when they are not running
	closed      bool
}

// nodeInfo is what the watcher knows of a node.
type nodeInfo struct {
	hostname string
	state    swarm.NodeState
	// lostFrom is when the node's loss counts: some time after the
	// watcher first saw it lost (zero: at once).
	lostFrom time.Time
}

// lost reports whether a task on this node can no longer end normally.
func (n nodeInfo) lost() bool {
	return n.state == swarm.NodeStateDown || n.state == swarm.NodeStateDisconnected
}

// jobWatch is one job's view of the watcher: its latest snapshot and a
// channel that says a new one is there (after every poll).
type jobWatch struct {
	serviceID string
	changed   chan struct{} // buffered: the snapshot changed

	mu   sync.Mutex
	snap snapshot
}

// snapshot is what the watcher last saw of a job.
type snapshot struct {
	tasks     []swarm.Task
	nodes     map[string]nodeInfo  // the nodes of its tasks
	firstSeen map[string]time.Time // when each task was first seen (local clock)
	gone      bool                 // the service no longer exists
	localExit bool                 // its container's die event was seen on this node
	err       error                // the last poll's error, nil once a poll succeeds
	errSince  time.Time            // when polls started failing
	seq       uint64               // the number of the poll that made it (see pollsStarted)
}

func newWatcher(api engine, log *slog.Logger, c clock) *watcher {
	return &watcher{api: api, log: log, clock: c, wake: make(chan struct{}, 1), jobs: map[string][]*jobWatch{}, nodes: map[string]nodeInfo{}}
}

// ensureRunning starts the poll and the event stream if they are not running.
func (w *watcher) ensureRunning() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ensureRunningLocked()
}

func (w *watcher) ensureRunningLocked() {
	if w.stop != nil || w.closed {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	w.stop = stop
	w.nodeAt = time.Time{}
	go w.pollLoop(ctx)
	go w.eventLoop(ctx)
}

// add starts watching the job service id.
func (w *watcher) add(id string) *jobWatch {
	jw := &jobWatch{serviceID: id, changed: make(chan struct{}, 1)}
	jw.snap.firstSeen = map[string]time.Time{}
	w.mu.Lock()
	w.jobs[id] = append(w.jobs[id], jw)
	w.ensureRunningLocked()
	w.mu.Unlock()
	w.wakeUp()
	return jw
}

// remove stops watching the job service for jw.
func (w *watcher) remove(jw *jobWatch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := jw.serviceID
	w.jobs[id] = slices.DeleteFunc(w.jobs[id], func(other *jobWatch) bool { return other == jw })
	if len(w.jobs[id]) == 0 {
		delete(w.jobs, id)
	}
}

// watching reports whether the job service id is in flight here.
func (w *watcher) watching(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.jobs[id]) > 0
}

// close stops the loops for good; the Runner stops its jobs first.
func (w *watcher) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
}

// wakeUpFast wakes the poll and keeps it fast for a while: an event says a
// task's state is about to change.
func (w *watcher) wakeUpFast() {
	w.burst.Store(true)
	w.wakeUp()
}

func (w *watcher) wakeUp() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// pollLoop reads the tasks of every job in flight, one TaskList call a
// tick, until no job has been in flight for idleLinger.
func (w *watcher) pollLoop(ctx context.Context) {
	p := pace{interval: minPoll}
	idleSince := w.clock.Now()
	for {
		jobs := w.inFlight()
		if len(jobs) > 0 {
			idleSince = w.clock.Now()
			p.polled(w.poll(ctx, jobs), w.clock.Now())
			if w.afterPoll != nil {
				w.afterPoll()
			}
		} else if w.stopIfIdle(idleSince) {
			return
		}
		timer := w.clock.NewTimer(p.interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-w.wake:
			p.woken(w.burst.Swap(false), w.clock.Now())
		case <-timer.C():
		}
		timer.Stop()
	}
}

// pace is the shared poll's interval: minPoll while anything changes or an
// event wakes it (burstPoll for burstLen after an event that says a task's
// state is about to change), backing off by pollBackoff while nothing
// changes, up to maxPoll.
type pace struct {
	interval   time.Duration
	burstUntil time.Time
}

// polled sets the interval after a poll that found changes or not.
func (p *pace) polled(changed bool, now time.Time) {
	switch {
	case now.Before(p.burstUntil):
		p.interval = burstPoll
	case changed:
		p.interval = minPoll
	default:
		p.interval = min(time.Duration(float64(p.interval)*pollBackoff), maxPoll)
	}
}

// woken resets the interval when the poll is woken, for a burst if asked.
func (p *pace) woken(burst bool, now time.Time) {
	p.interval = minPoll
	if burst {
		p.burstUntil = now.Add(burstLen)
	}
}

// stopIfIdle stops the loops when no job came for idleLinger.
func (w *watcher) stopIfIdle(idleSince time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.jobs) > 0 || w.clock.Now().Sub(idleSince) < idleLinger {
		return false
	}
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	return true
}

func (w *watcher) inFlight() map[string][]*jobWatch {
	w.mu.Lock()
	defer w.mu.Unlock()
	jobs := make(map[string][]*jobWatch, len(w.jobs))
	for id, jws := range w.jobs {
		jobs[id] = slices.Clone(jws)
	}
	return jobs
}

// poll reads the tasks of jobs (and the nodes, when needed) and hands each
// job its new snapshot. It reports whether anything changed.
func (w *watcher) poll(ctx context.Context, jobs map[string][]*jobWatch) bool {
	filters := make(client.Filters)
	for id := range jobs {
		filters.Add("service", id)
	}
	p := w.startPoll()
	list, err := w.api.TaskList(ctx, client.TaskListOptions{Filters: filters})
	if cerrdefs.IsNotFound(err) {
		// A service filter naming a removed service fails the whole list:
		// find which ones are gone, one list each, and carry on.
		return w.pollEach(ctx, jobs)
	}
	if err != nil {
		w.pollFailed(ctx, jobs, err)
		return false
	}
	w.pollSucceeded()
	byService := map[string][]swarm.Task{}
	for _, t := range list.Items {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	nodes := w.nodesFor(ctx, list.Items)
	changed := false
	for id, jws := range jobs {
		gone := len(byService[id]) == 0 && jws[0].hadTasks() && w.serviceGone(ctx, id)
		for _, jw := range jws {
			changed = jw.update(byService[id], nodes, gone, p) || changed
		}
	}
	return changed
}

// pollEach reads the tasks of each job with a list of its own, telling
// the jobs whose service is gone.
func (w *watcher) pollEach(ctx context.Context, jobs map[string][]*jobWatch) bool {
	changed := false
	for id, jws := range jobs {
		p := w.startPoll()
		list, err := w.api.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", id)})
		switch {
		case cerrdefs.IsNotFound(err):
			for _, jw := range jws {
				changed = jw.update(nil, nil, true, p) || changed
			}
		case err != nil:
			w.pollFailed(ctx, map[string][]*jobWatch{id: jws}, err)
		default:
			w.pollSucceeded()
			nodes := w.nodesFor(ctx, list.Items)
			for _, jw := range jws {
				changed = jw.update(list.Items, nodes, false, p) || changed
			}
		}
	}
	return changed
}

// pollStart is when a poll started, and its number.
type pollStart struct {
	at  time.Time
	seq uint64
}

func (w *watcher) startPoll() pollStart {
	return pollStart{at: w.clock.Now(), seq: w.polls.Add(1)}
}

// pollsStarted numbers the last poll started: a snapshot with a higher
// number comes from a poll that started after this call.
func (w *watcher) pollsStarted() uint64 { return w.polls.Load() }

func (w *watcher) pollFailed(ctx context.Context, jobs map[string][]*jobWatch, err error) {
	if ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	w.pollFailing = true
	w.mu.Unlock()
	w.log.Debug("oneshot: task poll failed", "err", err)
	for _, jws := range jobs {
		for _, jw := range jws {
			jw.failed(err, w.clock.Now())
		}
	}
}

// pollSucceeded notes when the manager answers again after an outage.
func (w *watcher) pollSucceeded() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pollFailing {
		w.pollFailing, w.backAt = false, w.clock.Now()
	}
}

// nodesFor returns what is known of the nodes that tasks run on, reading
// the node list when a node is new or the list is older than nodeRefresh.
func (w *watcher) nodesFor(ctx context.Context, tasks []swarm.Task) map[string]nodeInfo {
	w.mu.Lock()
	stale := w.clock.Now().Sub(w.nodeAt) > nodeRefresh
	for _, t := range tasks {
		if _, known := w.nodes[t.NodeID]; t.NodeID != "" && !known {
			stale = true
		}
	}
	w.mu.Unlock()
	if stale && hasLiveTask(tasks) {
		if list, err := w.api.NodeList(ctx, client.NodeListOptions{}); err == nil {
			nodes := make(map[string]nodeInfo, len(list.Items))
			for _, n := range list.Items {
				nodes[n.ID] = nodeInfo{hostname: n.Description.Hostname, state: n.Status.State}
			}
			w.mu.Lock()
			w.nodes, w.nodeAt = nodes, w.clock.Now()
			w.mu.Unlock()
		} else {
			w.log.Debug("oneshot: node list failed", "err", err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	nodes := map[string]nodeInfo{}
	for _, t := range tasks {
		if n, ok := w.nodes[t.NodeID]; ok {
			nodes[t.NodeID] = w.noteLoss(t.NodeID, n)
		} else if t.NodeID != "" && !w.nodeAt.IsZero() && hasLiveTask([]swarm.Task{t}) {
			nodes[t.NodeID] = w.noteLoss(t.NodeID, nodeInfo{state: swarm.NodeStateDown}) // left the swarm
		}
	}
	return nodes
}

// noteLoss fills in from when the node's loss counts: nodeLossConfirm
// after the watcher first saw it lost, and not before managerRecoveryGrace
// after the manager was back. Called with w.mu held.
func (w *watcher) noteLoss(id string, n nodeInfo) nodeInfo {
	if !n.lost() {
		delete(w.downSince, id)
		return n
	}
	if w.downSince == nil {
		w.downSince = map[string]time.Time{}
	}
	if _, seen := w.downSince[id]; !seen {
		w.downSince[id] = w.clock.Now()
	}
	n.lostFrom = w.downSince[id].Add(nodeLossConfirm)
	if recovered := w.backAt.Add(managerRecoveryGrace); !w.backAt.IsZero() && recovered.After(n.lostFrom) {
		n.lostFrom = recovered
	}
	return n
}

func hasLiveTask(tasks []swarm.Task) bool {
	for _, t := range tasks {
		if !TaskState(t.Status.State).Terminal() {
			return true
		}
	}
	return false
}

// serviceGone reports whether the service id no longer exists.
func (w *watcher) serviceGone(ctx context.Context, id string) bool {
	_, err := w.api.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	return cerrdefs.IsNotFound(err)
}

// eventLoop keeps one engine event stream open, reopening it after errors,
// and wakes the poll when an event may concern a job.
func (w *watcher) eventLoop(ctx context.Context) {
	var retry time.Duration // none for a stream that lived a while
	var since string
	for ctx.Err() == nil {
		opened := w.clock.Now()
		last, err := w.streamEvents(ctx, since)
		if last != "" {
			since = last
		}
		if ctx.Err() != nil {
			return
		}
		if w.clock.Now().Sub(opened) > maxEventRetry {
			retry = 0
		}
		w.log.Debug("oneshot: event stream broke; reopening", "err", err, "in", retry)
		w.markNodesStale()
		w.wakeUp() // events may have been missed: read the levels again
		if retry > 0 && !sleep(w.clock, retry, ctx.Done()) {
			return
		}
		retry = min(max(2*retry, 50*time.Millisecond), maxEventRetry)
	}
}

// streamEvents reads one event stream until it breaks, and returns the
// timestamp of the last event it saw, to resume from.
func (w *watcher) streamEvents(ctx context.Context, since string) (string, error) {
	filters := make(client.Filters).
		Add("type", string(events.ContainerEventType), string(events.NodeEventType), string(events.ServiceEventType)).
		Add("event", string(events.ActionDie), string(events.ActionUpdate), string(events.ActionRemove))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream := w.api.Events(ctx, client.EventsListOptions{Since: since, Filters: filters})
	last := since
	for {
		select {
		case msg := <-stream.Messages:
			last = fmt.Sprintf("%d.%09d", msg.TimeNano/1e9, msg.TimeNano%1e9)
			w.handleEvent(msg)
		case err := <-stream.Err:
			return last, err
		}
	}
}

func (w *watcher) handleEvent(msg events.Message) {
	switch msg.Type {
	case events.ContainerEventType:
		w.mu.Lock()
		jws := slices.Clone(w.jobs[msg.Actor.Attributes["com.docker.swarm.service.id"]])
		w.mu.Unlock()
		for _, jw := range jws {
			jw.sawLocalExit()
		}
		if len(jws) > 0 {
			w.wakeUpFast()
		}
	case events.NodeEventType:
		w.markNodesStale()
		w.wakeUpFast()
	case events.ServiceEventType:
		if w.watching(msg.Actor.ID) {
			w.wakeUpFast()
		}
	}
}

func (w *watcher) markNodesStale() {
	w.mu.Lock()
	w.nodeAt = time.Time{}
	w.mu.Unlock()
}

// snapshot returns the job's latest snapshot.
func (jw *jobWatch) snapshot() snapshot {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	return jw.snap
}

// update stores the view of the job that poll p had, tells the job, and
// reports whether its tasks, their nodes or its existence changed.
func (jw *jobWatch) update(tasks []swarm.Task, nodes map[string]nodeInfo, gone bool, p pollStart) bool {
	sort.SliceStable(tasks, func(i, j int) bool { return tasks[i].CreatedAt.Before(tasks[j].CreatedAt) })
	jw.mu.Lock()
	defer jw.mu.Unlock()
	old := jw.snap
	changed := gone != old.gone || old.err != nil || !sameTasks(old.tasks, tasks) || !sameNodes(old.nodes, nodes)
	jw.snap.tasks, jw.snap.nodes, jw.snap.gone, jw.snap.err = tasks, nodes, gone, nil
	jw.snap.seq = p.seq
	firstSeen := make(map[string]time.Time, len(tasks))
	for _, t := range tasks {
		if seen, ok := old.firstSeen[t.ID]; ok {
			firstSeen[t.ID] = seen
		} else {
			firstSeen[t.ID] = p.at
		}
	}
	jw.snap.firstSeen = firstSeen
	jw.signal()
	return changed
}

// failed records a failed poll; the job sees it in its next snapshot.
func (jw *jobWatch) failed(err error, now time.Time) {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	if jw.snap.err == nil {
		jw.snap.errSince = now
	}
	jw.snap.err = err
	jw.signal()
}

func (jw *jobWatch) sawLocalExit() {
	jw.mu.Lock()
	jw.snap.localExit = true
	jw.mu.Unlock()
}

func (jw *jobWatch) hadTasks() bool {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	return len(jw.snap.tasks) > 0
}

func (jw *jobWatch) signal() {
	select {
	case jw.changed <- struct{}{}:
	default:
	}
}

func sameTasks(a, b []swarm.Task) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Status.State != b[i].Status.State || a[i].NodeID != b[i].NodeID ||
			a[i].Status.Err != b[i].Status.Err || a[i].DesiredState != b[i].DesiredState {
			return false
		}
	}
	return true
}

func sameNodes(a, b map[string]nodeInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for id, n := range a {
		if b[id] != n {
			return false
		}
	}
	return true
}
