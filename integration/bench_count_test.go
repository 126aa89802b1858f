package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// requestKind is what a request to the engine is for, as the goals on the
// manager's load count them.
type requestKind int

const (
	kindTaskPoll requestKind = iota // GET /tasks
	kindNodeList                    // GET /nodes
	kindPing                        // /_ping
	kindInspect                     // GET /services/ID
	kindCreate                      // POST /services/create
	kindLogs                        // /services/ID/logs, /tasks/ID/logs
	kindRemove                      // DELETE /services/ID
	kindEvents                      // GET /events
	kindInfo                        // GET /info: the Runner's own node, read at each event stream's opening
	kindPresence                    // /configs...: a Runner's presence (presence.go)
	kindOther                       // anything else (service updates, /version...)
	numKinds
)

var kindNames = [numKinds]string{"task polls", "node list", "_ping", "inspect", "create", "logs", "remove", "events", "info", "presence", "other"}

// apiVersion is the /v1.41 that prefixes a versioned request's path.
var apiVersion = regexp.MustCompile(`^/v[0-9]+\.[0-9]+`)

// kindOf says what the request is for.
func kindOf(r *http.Request) requestKind {
	path := apiVersion.ReplaceAllString(r.URL.Path, "")
	switch {
	case path == "/_ping":
		return kindPing
	case path == "/tasks":
		return kindTaskPoll
	case path == "/nodes":
		return kindNodeList
	case path == "/events":
		return kindEvents
	case path == "/info":
		return kindInfo
	case strings.HasPrefix(path, "/configs"):
		return kindPresence
	case path == "/services/create":
		return kindCreate
	case strings.HasSuffix(path, "/logs"):
		return kindLogs
	case strings.HasPrefix(path, "/services/") && strings.Count(path, "/") == 2 && r.Method == http.MethodGet:
		return kindInspect
	case strings.HasPrefix(path, "/services/") && strings.Count(path, "/") == 2 && r.Method == http.MethodDelete:
		return kindRemove
	}
	return kindOther
}

// requestCounter counts requests by kind, and those of kind other by
// their method and path.
type requestCounter struct {
	n      [numKinds]atomic.Int64
	others sync.Map // "POST /services/{id}/update" -> *atomic.Int64
}

func (c *requestCounter) count(r *http.Request) {
	kind := kindOf(r)
	c.n[kind].Add(1)
	if kind == kindOther {
		n, _ := c.others.LoadOrStore(r.Method+" "+pathPattern(r), new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
}

// otherRequests lists the requests of kind other counted so far, by method
// and path.
func (c *requestCounter) otherRequests() string {
	var parts []string
	c.others.Range(func(pattern, n any) bool {
		parts = append(parts, fmt.Sprintf("%s: %d", pattern, n.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(parts)
	return orNone(strings.Join(parts, ", "))
}

// pathPattern is the request's path without its API version, each object's
// ID or name replaced by {id}.
func pathPattern(r *http.Request) string {
	parts := strings.Split(apiVersion.ReplaceAllString(r.URL.Path, ""), "/")
	for i := 1; i < len(parts); i++ {
		switch parts[i-1] {
		case "services", "tasks", "nodes", "secrets", "configs", "networks", "containers":
			if parts[i] != "create" {
				parts[i] = "{id}"
			}
		}
	}
	return strings.Join(parts, "/")
}

// requestCounts is a snapshot of a requestCounter.
type requestCounts [numKinds]int64

func (c *requestCounter) snapshot() requestCounts {
	var s requestCounts
	for k := range s {
		s[k] = c.n[k].Load()
	}
	return s
}

// minus is the requests counted since before.
func (s requestCounts) minus(before requestCounts) requestCounts {
	for k := range s {
		s[k] -= before[k]
	}
	return s
}

func (s requestCounts) total() int64 {
	var n int64
	for _, v := range s {
		n += v
	}
	return n
}

// breakdown lists each kind's count divided by per ("create 1, logs 2..."),
// the kinds never counted left out.
func (s requestCounts) breakdown(per float64) string {
	var parts []string
	for k, v := range s {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", kindNames[k], twoPlaces(float64(v)/per)))
		}
	}
	return strings.Join(parts, ", ")
}

// twoPlaces prints v with up to two decimals, none when it is whole.
func twoPlaces(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

// countingTransport counts the requests a Runner sends to the engine.
type countingTransport struct {
	base http.RoundTripper
	requestCounter
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.count(req)
	return c.base.RoundTrip(req)
}

// countingRunner is a Runner of its own on the local engine's socket whose
// requests are counted.
func countingRunner(b testing.TB) (*oneshot.Runner, *countingTransport) {
	counter := &countingTransport{base: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", "/var/run/docker.sock")
	}}}
	return runnerThrough(b, "unix:///var/run/docker.sock", counter), counter
}

// runnerThrough is a Runner of its own on the engine at host that sends
// its requests through transport.
func runnerThrough(b testing.TB, host string, transport http.RoundTripper) *oneshot.Runner {
	c, err := client.New(client.WithHost(host), client.WithHTTPClient(&http.Client{Transport: transport}))
	require.NoError(b, err)
	r, err := oneshot.NewRunner(oneshot.WithClient(c))
	require.NoError(b, err)
	b.Cleanup(func() { _ = r.Close(); _ = c.Close() })
	return r
}

// countingProxy is an HTTP proxy on a unix socket in front of the local
// engine's that counts the requests it forwards: point a docker CLI at it
// with DOCKER_HOST=host.
type countingProxy struct {
	host string
	requestCounter
}

func startCountingProxy(b testing.TB) *countingProxy {
	dir, err := os.MkdirTemp("", "oneshot-proxy")
	require.NoError(b, err)
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(b, err)
	engine := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", "/var/run/docker.sock")
	}}
	forward := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "http", "docker", ""
		},
		Transport:     engine,
		FlushInterval: -1, // stream logs and progress as they come
	}
	p := &countingProxy{host: "unix://" + sock}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.count(r)
		forward.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() {
		_ = srv.Close()
		engine.CloseIdleConnections()
		_ = os.RemoveAll(dir)
	})
	return p
}
