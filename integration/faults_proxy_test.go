package integration

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
)

// faultProxy is an HTTP reverse proxy between a Runner and a Docker engine,
// on 127.0.0.1, that plays a faulty engine: it can cut every event stream
// and refuse new ones, delay every request, and hold chosen requests
// (an engine that never answers them). It says when things happen through
// channels, so that tests synchronise on it, never on sleeps.
type faultProxy struct {
	// host is the proxy's address, for oneshot.WithHost.
	host    string
	srv     *http.Server
	forward *httputil.ReverseProxy

	mu        sync.Mutex
	eventsCut bool
	delay     time.Duration
	// streams are the connections serving an event stream now.
	streams map[net.Conn]bool
	holds   []*heldRequest // every hold asked for, taken or not
	// eventsOpened is signalled (without blocking) when an event stream is
	// served, eventsRefused when one is refused.
	eventsOpened, eventsRefused chan struct{}
	refusedCount                int
}

// heldRequest is a request the proxy holds instead of forwarding it: its
// client sees an engine that does not answer, until it gives up or the
// test releases it.
type heldRequest struct {
	match func(*http.Request) bool
	taken bool // a request was matched: it holds no other
	// arrived is closed when the request came; abandoned when its client
	// gave up on it (its connection closed); released when the test lets
	// it through.
	arrived, abandoned, released chan struct{}
	arrivedAt, abandonedAt       time.Time
	path                         string
	releaseOnce                  sync.Once
}

// proxyConnKey keys the request's connection in its context.
type proxyConnKey struct{}

// startFaultProxy starts a proxy to the engine at engineHost (as
// DOCKER_HOST gives it: unix:// or tcp://), stopped when the test ends.
// Register it before the Runner that uses it, so that the Runner is
// closed first.
func startFaultProxy(t *testing.T, engineHost string) *faultProxy {
	t.Helper()
	target, err := client.ParseHostURL(engineHost)
	require.NoError(t, err)
	network, addr := target.Scheme, target.Host // Host is a unix socket's path too
	engine := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &faultProxy{
		host:          "tcp://" + ln.Addr().String(),
		streams:       map[net.Conn]bool{},
		eventsOpened:  make(chan struct{}, 1),
		eventsRefused: make(chan struct{}, 1),
		forward: &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "http", "docker", ""
			},
			Transport:     engine,
			FlushInterval: -1,                         // events and logs stream as they come
			ErrorLog:      log.New(io.Discard, "", 0), // cut and held requests are the point
		},
	}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(p.serve),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, proxyConnKey{}, c)
		},
	}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() {
		p.releaseAll()
		_ = p.srv.Close()
		engine.CloseIdleConnections()
	})
	return p
}

// serve forwards r, unless it is held, or an event stream while they are
// cut.
func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	if d := p.requestDelay(); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if h := p.holdFor(r); h != nil {
		if !h.hold(r) {
			return
		}
	}
	if engineAPIPath(r) == "/events" {
		p.serveEvents(w, r)
		return
	}
	p.forward.ServeHTTP(w, r)
}

// serveEvents forwards an event stream, noting its connection so that
// cutEvents can break it, or refuses it (the connection is closed before
// any answer) while event streams are cut.
func (p *faultProxy) serveEvents(w http.ResponseWriter, r *http.Request) {
	conn := r.Context().Value(proxyConnKey{}).(net.Conn)
	p.mu.Lock()
	if p.eventsCut {
		p.refusedCount++
		p.mu.Unlock()
		refuse(w)
		notifyOne(p.eventsRefused)
		return
	}
	p.streams[conn] = true
	p.mu.Unlock()
	notifyOne(p.eventsOpened)
	defer func() {
		p.mu.Lock()
		delete(p.streams, conn)
		p.mu.Unlock()
	}()
	p.forward.ServeHTTP(w, r)
}

// refuse closes the request's connection without an answer.
func refuse(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("the proxy's connections can be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// notifyOne says something happened on ch, a channel of one slot, without
// waiting for anyone to read it.
func notifyOne(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// cutEvents breaks every event stream served now and refuses new ones.
func (p *faultProxy) cutEvents() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eventsCut = true
	for c := range p.streams {
		_ = c.Close()
	}
}

// openEventStreams is how many event streams the proxy serves now.
func (p *faultProxy) openEventStreams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.streams)
}

// refusedEventStreams is how many event streams the proxy refused.
func (p *faultProxy) refusedEventStreams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refusedCount
}

// slowDown delays every request by d before it is forwarded.
func (p *faultProxy) slowDown(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

func (p *faultProxy) requestDelay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delay
}

// holdNext makes the proxy hold the next request that match accepts.
func (p *faultProxy) holdNext(match func(*http.Request) bool) *heldRequest {
	h := &heldRequest{match: match, arrived: make(chan struct{}), abandoned: make(chan struct{}), released: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holds = append(p.holds, h)
	return h
}

// holdFor takes the hold that r is for, if any: each holds one request.
func (p *faultProxy) holdFor(r *http.Request) *heldRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.holds {
		if !h.taken && h.match(r) {
			h.taken = true
			return h
		}
	}
	return nil
}

// releaseAll lets every request held, or still to be held, through.
func (p *faultProxy) releaseAll() {
	p.mu.Lock()
	holds := slices.Clone(p.holds)
	p.mu.Unlock()
	for _, h := range holds {
		h.release()
	}
}

// hold keeps r until its client gives up (false) or the test releases it
// (true: forward it).
func (h *heldRequest) hold(r *http.Request) bool {
	h.arrivedAt, h.path = time.Now(), r.URL.RequestURI()
	close(h.arrived)
	select {
	case <-r.Context().Done():
		h.abandonedAt = time.Now()
		close(h.abandoned)
		return false
	case <-h.released:
		return true
	}
}

// release lets the held request through, if its client still waits.
func (h *heldRequest) release() { h.releaseOnce.Do(func() { close(h.released) }) }

// heldFor is how long the request was held before its client gave up;
// valid once abandoned is closed.
func (h *heldRequest) heldFor() time.Duration { return h.abandonedAt.Sub(h.arrivedAt) }

// apiVersionPrefix is the API version that starts the engine's paths.
var apiVersionPrefix = regexp.MustCompile(`^/v[0-9]+\.[0-9]+`)

// engineAPIPath is r's path without its API version: /tasks, /events...
func engineAPIPath(r *http.Request) string { return apiVersionPrefix.ReplaceAllString(r.URL.Path, "") }

// taskLogsPath matches the path of a task's log.
var taskLogsPath = regexp.MustCompile(`^/tasks/[^/]+/logs$`)

// isTaskList accepts the task list: the Runner's shared task poll.
func isTaskList(r *http.Request) bool { return engineAPIPath(r) == "/tasks" }

// isNodeList accepts the node list, which the task poll reads too.
func isNodeList(r *http.Request) bool { return engineAPIPath(r) == "/nodes" }

// isLogFollow accepts a followed task log: a job's live output.
func isLogFollow(r *http.Request) bool {
	return taskLogsPath.MatchString(engineAPIPath(r)) && queryTrue(r.URL.Query().Get("follow"))
}

// isLogRead accepts a task log read without follow: a job's final read.
func isLogRead(r *http.Request) bool {
	return taskLogsPath.MatchString(engineAPIPath(r)) && !queryTrue(r.URL.Query().Get("follow"))
}

func queryTrue(v string) bool { return v == "1" || v == "true" }
