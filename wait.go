package oneshot

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// How the shared task poll paces itself: it polls at minPoll while anything
// changes or an event wakes it, and backs off by pollBackoff while nothing
// changes: up to maxPoll while every task in flight runs on the node the
// Runner talks to (whose container events tell their end), up to
// maxPollRemote otherwise (a task's end on another node is seen only by
// the poll). pollTimeout bounds each of its requests: longer than
// hostTimeout, so that WithHosts' failover, which cuts a call to a
// manager that hangs after hostTimeout and moves on to the next one, cuts
// it first (the poll cutting it would leave the failover on that manager).
const (
	minPoll       = 20 * time.Millisecond
	maxPoll       = time.Second
	maxPollRemote = 110 * time.Millisecond
	pollBackoff   = 1.5
	pollTimeout   = hostTimeout + 5*time.Second
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
// engine event stream. The task list is the truth, with one exception: a
// job's container that exits on the node the Runner talks to says so in a
// `die` event, with its exit code, tens of milliseconds before the manager
// records it (container events are node-local), and that ends the job
// (localExit). Other events make the poll look at once: a node that
// changes state, a service removed. Each job's supervisor (supervise.go)
// reads its own snapshot of it.
type watcher struct {
	api   engine
	log   *slog.Logger
	clock clock

	wake  chan struct{} // buffered: poll now
	burst atomic.Bool   // with the wake: keep polling fast for burstLen
	polls atomic.Uint64 // numbers the polls, counting those started
	// afterPoll and afterEvent, if set, are called after each poll and
	// each event handled: tests wait on them.
	afterPoll  func()
	afterEvent func(events.Message)

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

	// localNode is the swarm node ID of the engine the Runner talks to,
	// read when the event stream opens; "" if unknown.
	localNode string
	// streamUp says an event stream is open; stream numbers them.
	streamUp bool
	stream   uint64
	// services holds what the current event stream said of recently
	// created services, by ID (see untouched).
	services map[string]serviceSeen
}

// serviceSeen is what an event stream said of a service since it saw the
// service created.
type serviceSeen struct {
	stream  uint64    // the stream that saw it created
	at      time.Time // when
	updated bool      // it saw an update since
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
	localEnds bool          // a local die event ends a task

	mu   sync.Mutex
	snap snapshot
}

// snapshot is what the watcher last saw of a job.
type snapshot struct {
	tasks     []swarm.Task
	nodes     map[string]nodeInfo       // the nodes of its tasks
	firstSeen map[string]time.Time      // when each task was first seen (local clock)
	gone      bool                      // the service no longer exists
	downSeen  map[string]bool           // the nodes seen down or disconnected while a task of the job lived on them
	local     map[string]localContainer // by task ID: its container, as the Runner's engine told
	localExit bool                      // one of its tasks ended by its die event, ahead of the manager
	err       error                     // the last poll's error, nil once a poll succeeds
	errSince  time.Time                 // when polls started failing
	seq       uint64                    // the number of the poll that made it (see pollsStarted)
}

// localContainer is what the engine the Runner talks to said of a task's
// container: when it started, and that it exited with code at endedAt, or
// that it was killed (by a stop: then the manager's record says how the
// task ended).
type localContainer struct {
	id      string
	started time.Time
	exited  bool
	code    int
	endedAt time.Time
	killed  bool
}

// merge adds what a later event said to what was known.
func (c localContainer) merge(later localContainer) localContainer {
	c.id = later.id
	if !later.started.IsZero() {
		c.started = later.started
	}
	if later.exited {
		c.exited, c.code, c.endedAt = true, later.code, later.endedAt
	}
	c.killed = c.killed || later.killed
	return c
}

func newWatcher(api engine, log *slog.Logger, c clock) *watcher {
	return &watcher{api: api, log: log, clock: c, wake: make(chan struct{}, 1), jobs: map[string][]*jobWatch{}, nodes: map[string]nodeInfo{},
		services: map[string]serviceSeen{}}
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

// add starts watching the job service id. With localEnds, a local die
// event ends a task ahead of the manager's record (see withLocalExits):
// not for a job whose service is kept, which is read afterwards.
func (w *watcher) add(id string, localEnds bool) *jobWatch {
	jw := &jobWatch{serviceID: id, changed: make(chan struct{}, 1), localEnds: localEnds}
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
		// The poll is numbered before it reads the jobs in flight: one
		// numbered after a job was added polls it (see pollsStarted).
		p0 := w.startPoll()
		jobs := w.inFlight()
		if len(jobs) > 0 {
			start := w.clock.Now()
			idleSince = start
			changed, quiet := w.poll(ctx, jobs, p0)
			p.polled(changed, quiet, w.clock.Now())
			p.took(w.clock.Now().Sub(start))
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
// changes, up to maxPoll while the poll is quiet (every task in flight
// runs on the Runner's node: its die event will tell its end), else up to
// maxPollRemote.
type pace struct {
	interval   time.Duration
	burstUntil time.Time
}

// polled sets the interval after a poll that found changes or not, and
// was quiet or not.
func (p *pace) polled(changed, quiet bool, now time.Time) {
	ceiling := maxPollRemote
	if quiet {
		ceiling = maxPoll
	}
	switch {
	case now.Before(p.burstUntil):
		p.interval = burstPoll
	case changed:
		p.interval = minPoll
	default:
		p.interval = min(time.Duration(float64(p.interval)*pollBackoff), ceiling)
	}
}

// took spaces the next poll at least as far as the last one took: a poll
// that takes long (many jobs, a loaded engine) is not followed at once by
// the next, so that polls take at most half the time.
func (p *pace) took(d time.Duration) {
	p.interval = max(p.interval, d)
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
// job its new snapshot, numbered p (taken before jobs was read). It
// reports whether anything changed, and whether the poll may be quiet:
// every task in flight runs on the Runner's node.
func (w *watcher) poll(ctx context.Context, jobs map[string][]*jobWatch, p pollStart) (changed, quiet bool) {
	filters := make(client.Filters)
	for id := range jobs {
		filters.Add("service", id)
	}
	list, err := pollBounded(ctx, w.clock, func(ctx context.Context) (client.TaskListResult, error) {
		return w.api.TaskList(ctx, client.TaskListOptions{Filters: filters})
	})
	if cerrdefs.IsNotFound(err) {
		// A service filter naming a removed service fails the whole list:
		// find which ones are gone, one list each, and carry on.
		return w.pollEach(ctx, jobs), false
	}
	if err != nil {
		w.pollFailed(ctx, jobs, err)
		return false, false
	}
	w.pollSucceeded()
	byService := map[string][]swarm.Task{}
	for _, t := range list.Items {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	nodes := w.nodesFor(ctx, list.Items)
	for id, jws := range jobs {
		gone := len(byService[id]) == 0 && jws[0].hadTasks() && w.serviceGone(ctx, id)
		for _, jw := range jws {
			changed = jw.update(byService[id], nodes, gone, p) || changed
		}
	}
	return changed, w.quiet(jobs, byService)
}

// quiet reports whether every job in flight has a task, and every task
// that has not ended runs on the Runner's node while the event stream is
// open: then the container's die event tells the end, and the poll may
// slow down.
func (w *watcher) quiet(jobs map[string][]*jobWatch, byService map[string][]swarm.Task) bool {
	w.mu.Lock()
	local, up := w.localNode, w.streamUp
	w.mu.Unlock()
	if local == "" || !up {
		return false
	}
	for id := range jobs {
		if len(byService[id]) == 0 {
			return false
		}
		for _, t := range byService[id] {
			if !TaskState(t.Status.State).Terminal() && (t.NodeID != local || t.Status.State != swarm.TaskStateRunning) {
				return false
			}
		}
	}
	return true
}

// pollBounded calls fn with a context that ends after pollTimeout on c: a
// request the engine does not answer fails that poll, and the next one
// tries again, so that one stuck request never holds every job.
func pollBounded[T any](ctx context.Context, c clock, fn func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := c.AfterFunc(pollTimeout, func() { cancel(errPollTimeout) })
	defer t.Stop()
	v, err := fn(ctx)
	if err != nil && context.Cause(ctx) == errPollTimeout {
		err = errPollTimeout
	}
	return v, err
}

// errPollTimeout says the engine did not answer a request of the poll.
var errPollTimeout = fmt.Errorf("the engine did not answer within %s", pollTimeout)

// pollEach reads the tasks of each job with a list of its own, telling
// the jobs whose service is gone.
func (w *watcher) pollEach(ctx context.Context, jobs map[string][]*jobWatch) bool {
	changed := false
	for id, jws := range jobs {
		p := w.startPoll()
		list, err := pollBounded(ctx, w.clock, func(ctx context.Context) (client.TaskListResult, error) {
			return w.api.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", id)})
		})
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
// number comes from a poll that started after this call, and that read
// the jobs in flight after it (a job added before the call is in it).
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
		list, err := pollBounded(ctx, w.clock, func(ctx context.Context) (client.NodeListResult, error) {
			return w.api.NodeList(ctx, client.NodeListOptions{})
		})
		if err == nil {
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
	_, err := pollBounded(ctx, w.clock, func(ctx context.Context) (client.ServiceInspectResult, error) {
		return w.api.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	})
	return cerrdefs.IsNotFound(err)
}

// eventLoop keeps one engine event stream open, reopening it after errors,
// and wakes the poll when an event may concern a job.
func (w *watcher) eventLoop(ctx context.Context) {
	var retry time.Duration // none for a stream that lived a while
	// The first stream starts a little in the past, so that it replays the
	// creation of a service made while it was opening (see untouched).
	since := eventTime(w.clock.Now().Add(-replayMargin).UnixNano())
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
		Add("event", string(events.ActionStart), string(events.ActionDie), string(events.ActionKill),
			string(events.ActionCreate), string(events.ActionUpdate), string(events.ActionRemove))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream := w.api.Events(ctx, client.EventsListOptions{Since: since, Filters: filters})
	w.streamOpened()
	defer w.streamClosed()
	w.readLocalNode(ctx)
	last := since
	for {
		select {
		case msg := <-stream.Messages:
			last = eventTime(msg.TimeNano)
			w.handleEvent(msg)
			if w.afterEvent != nil {
				w.afterEvent(msg)
			}
		case err := <-stream.Err:
			return last, err
		}
	}
}

// replayMargin is how far back the first event stream starts.
const replayMargin = time.Second

// eventTime is a time in the events API's form (seconds.nanoseconds).
func eventTime(unixNano int64) string {
	return fmt.Sprintf("%d.%09d", unixNano/1e9, unixNano%1e9)
}

// readLocalNode reads which swarm node the engine the Runner talks to is
// (it may change with the engine: WithHosts).
func (w *watcher) readLocalNode(ctx context.Context) {
	info, err := pollBounded(ctx, w.clock, func(ctx context.Context) (client.SystemInfoResult, error) {
		return w.api.Info(ctx, client.InfoOptions{})
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	w.localNode = info.Info.Swarm.NodeID
	if err != nil {
		w.localNode = ""
		w.log.Debug("oneshot: read the engine's node", "err", err)
	}
}

// streamOpened starts a new stream's record; events seen on an earlier
// one may have been followed by events missed.
func (w *watcher) streamOpened() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stream++
	w.streamUp = true
	clear(w.services)
}

func (w *watcher) streamClosed() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.streamUp = false
}

func (w *watcher) handleEvent(msg events.Message) {
	switch msg.Type {
	case events.ContainerEventType:
		w.containerEvent(msg)
	case events.NodeEventType:
		w.markNodesStale()
		w.wakeUpFast()
	case events.ServiceEventType:
		w.serviceEvent(msg)
		if w.watching(msg.Actor.ID) && msg.Action != events.ActionCreate {
			w.wakeUpFast()
		}
	}
}

// containerEvent hands a job's container's start, kill or die to its jobs.
func (w *watcher) containerEvent(msg events.Message) {
	w.mu.Lock()
	jws := slices.Clone(w.jobs[msg.Actor.Attributes["com.docker.swarm.service.id"]])
	w.mu.Unlock()
	taskID, seen, ok := containerSeen(msg)
	if len(jws) == 0 || !ok {
		return
	}
	ahead := false
	for _, jw := range jws {
		ahead = jw.sawLocal(taskID, seen) || ahead
	}
	if msg.Action == events.ActionDie && !ahead {
		w.wakeUpFast() // a stopped container: the manager records its end in a moment
	}
}

// containerSeen is what a container event of a swarm task says of it.
func containerSeen(msg events.Message) (taskID string, seen localContainer, ok bool) {
	attrs := msg.Actor.Attributes
	taskID = attrs["com.docker.swarm.task.id"]
	seen.id = msg.Actor.ID
	at := time.Unix(0, msg.TimeNano)
	switch msg.Action {
	case events.ActionStart:
		seen.started = at
	case events.ActionKill:
		seen.killed = true
	case events.ActionDie:
		code, err := strconv.Atoi(attrs["exitCode"])
		if err != nil {
			return "", seen, false // the manager's record will say
		}
		seen.exited, seen.code, seen.endedAt = true, code, at
	default:
		return "", seen, false
	}
	return taskID, seen, taskID != ""
}

// serviceEvent records the creation and updates of services, for
// untouched.
func (w *watcher) serviceEvent(msg events.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch msg.Action {
	case events.ActionCreate:
		w.forgetOldServices()
		w.services[msg.Actor.ID] = serviceSeen{stream: w.stream, at: w.clock.Now()}
	case events.ActionUpdate:
		if seen, ok := w.services[msg.Actor.ID]; ok {
			seen.updated = true
			w.services[msg.Actor.ID] = seen
		}
	case events.ActionRemove:
		delete(w.services, msg.Actor.ID)
	}
}

// serviceMemory is how many services' records the watcher keeps, and
// serviceMemoryAge how long it keeps those of services it does not watch.
const (
	serviceMemory    = 4096
	serviceMemoryAge = time.Minute
)

// forgetOldServices keeps w.services bounded. Called with w.mu held.
func (w *watcher) forgetOldServices() {
	if len(w.services) < serviceMemory {
		return
	}
	for id, seen := range w.services {
		if len(w.jobs[id]) == 0 && w.clock.Now().Sub(seen.at) > serviceMemoryAge {
			delete(w.services, id)
		}
	}
}

// untouched reports whether the open event stream saw the service id
// created and never updated since: nobody else attached to it (an
// attacher writes its lease) or changed it, so that its creator may
// remove it without reading it first.
func (w *watcher) untouched(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen, ok := w.services[id]
	return ok && w.streamUp && seen.stream == w.stream && !seen.updated
}

func (w *watcher) markNodesStale() {
	w.mu.Lock()
	w.nodeAt = time.Time{}
	w.mu.Unlock()
}

// snapshot returns the job's latest snapshot, with the tasks whose
// container was seen exiting on its own on the Runner's node ended as
// the manager will record them (withLocalExits), if jw.localEnds.
func (jw *jobWatch) snapshot() snapshot {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	snap := jw.snap
	if jw.localEnds {
		snap.tasks, snap.localExit = withLocalExits(snap.tasks, snap.local)
	}
	return snap
}

// stoppingSnapshot is snapshot for a job being stopped: a task whose
// container the Runner's engine saw killed and dead has ended too, shut
// down, whatever the manager says yet (it records it a moment later, or
// much later on a loaded swarm): stopped means the container is gone.
func (jw *jobWatch) stoppingSnapshot() snapshot {
	snap := jw.snapshot()
	jw.mu.Lock()
	defer jw.mu.Unlock()
	if !jw.localEnds || len(jw.snap.local) == 0 {
		return snap
	}
	snap.tasks = slices.Clone(snap.tasks)
	for i, t := range snap.tasks {
		if c := jw.snap.local[t.ID]; c.exited && c.killed && !TaskState(t.Status.State).Terminal() {
			snap.tasks[i].Status = endedStatus(t.Status, c)
			snap.tasks[i].Status.State, snap.tasks[i].Status.Err = swarm.TaskStateShutdown, ""
			snap.tasks[i].Status.Message = "shutdown"
		}
	}
	return snap
}

// withLocalExits returns tasks with each one whose container exited on
// its own (no kill: a stop's end is the manager's to say), and that the
// manager has not yet recorded as ended, ended as it will record it:
// complete on exit code 0, else failed with the swarm's own error. It
// reports whether it ended any.
func withLocalExits(tasks []swarm.Task, local map[string]localContainer) ([]swarm.Task, bool) {
	if len(local) == 0 {
		return tasks, false
	}
	out := slices.Clone(tasks)
	ended := false
	for i, t := range out {
		e, ok := local[t.ID]
		if !ok || !e.exited || e.killed || TaskState(t.Status.State).Terminal() {
			continue
		}
		out[i].Status = endedStatus(t.Status, e)
		ended = true
	}
	return out, ended
}

// endedStatus is the status the swarm gives a task whose container
// exited with e.code (swarmkit's container adapter: message "finished",
// or error "task: non-zero exit (N)" with the message left "started").
func endedStatus(s swarm.TaskStatus, e localContainer) swarm.TaskStatus {
	s.Timestamp = e.endedAt
	if e.code == 0 {
		s.State, s.Message, s.Err = swarm.TaskStateComplete, "finished", ""
	} else {
		s.State, s.Err = swarm.TaskStateFailed, fmt.Sprintf("task: non-zero exit (%d)", e.code)
	}
	cs := swarm.ContainerStatus{}
	if s.ContainerStatus != nil {
		cs = *s.ContainerStatus
	}
	cs.ExitCode = e.code
	if cs.ContainerID == "" {
		cs.ContainerID = e.id
	}
	s.ContainerStatus = &cs
	return s
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
	for _, t := range tasks {
		if nodes[t.NodeID].lost() && !TaskState(t.Status.State).Terminal() {
			if !jw.snap.downSeen[t.NodeID] {
				jw.snap.downSeen = withEntry(jw.snap.downSeen, t.NodeID, true)
			}
		}
	}
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

// sawLocal records what the Runner's engine said of the container of
// one of the job's tasks, and tells the job: a die ends it at once. It
// reports whether that ended the task ahead of the manager (an exit on
// its own, for a job whose local ends count).
func (jw *jobWatch) sawLocal(taskID string, seen localContainer) bool {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	c := jw.snap.local[taskID].merge(seen)
	jw.snap.local = withEntry(jw.snap.local, taskID, c)
	jw.signal()
	return jw.localEnds && c.exited && !c.killed
}

// withEntry returns a copy of m with k set to v: the maps of a snapshot
// are shared with the snapshots handed out, never written in place.
func withEntry[K comparable, V any](m map[K]V, k K, v V) map[K]V {
	m = maps.Clone(m)
	if m == nil {
		m = map[K]V{}
	}
	m[k] = v
	return m
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
