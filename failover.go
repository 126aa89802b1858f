package oneshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// A Runner made WithHosts talks to several managers of one swarm through a
// failover engine: one client per manager, one of them in use. A call that
// the manager in use cannot answer (it is unreachable, silent for
// hostTimeout, or no longer a manager with a leader) moves the failover to
// the next manager, and the call is made again there, once per manager.
// The streams (events, a followed log) opened on a manager are ended when
// the failover moves away from it: their readers reopen them, and so reach
// the new one.

// hostTimeout bounds how long a manager may take to answer a call (or to
// open a stream) before the failover moves on: a manager that hangs is
// treated as one that is gone. (A manager whose peers are gone hangs for
// a while before it says the swarm has no leader, measured on 20.10.)
const hostTimeout = 10 * time.Second

var (
	// errHostSilent is why a call is cut when its manager did not answer
	// within hostTimeout; errHostLeft why a call or a stream is cut when
	// the failover moved away from its manager.
	errHostSilent = fmt.Errorf("the manager did not answer within %s", hostTimeout)
	errHostLeft   = errors.New("moved to another manager")
)

// failover is an engine over several managers of one swarm.
type failover struct {
	hosts   []string
	engines []engine
	closers []io.Closer
	clock   clock
	log     func() *slog.Logger

	mu      sync.Mutex
	current int
	moved   chan struct{} // closed when the failover moves away from current
}

func newFailover(hosts []string, engines []engine, c clock, log func() *slog.Logger) *failover {
	return &failover{hosts: hosts, engines: engines, clock: c, log: log, moved: make(chan struct{})}
}

// clientForHost makes the client of one manager, given as DOCKER_HOST
// takes it (ssh:// included), with the TLS settings of the environment
// (DOCKER_CERT_PATH, DOCKER_TLS_VERIFY), negotiating the API version (see
// engineconfig.go).
func clientForHost(host string) (*client.Client, error) {
	opts, err := clientOptsForHost(host)
	if err != nil {
		return nil, err
	}
	return client.New(opts...)
}

// dialFailover makes a failover engine with a client per host.
func dialFailover(hosts []string, log func() *slog.Logger) (*failover, error) {
	var engines []engine
	var closers []io.Closer
	for _, h := range hosts {
		c, err := clientForHost(h)
		if err != nil {
			for _, made := range closers {
				_ = made.Close()
			}
			return nil, fmt.Errorf("oneshot: WithHosts: %w", err)
		}
		engines, closers = append(engines, c), append(closers, c)
	}
	f := newFailover(hosts, engines, realClock{}, log)
	f.closers = closers
	return f, nil
}

// Close closes the clients the failover made.
func (f *failover) Close() error {
	var errs []error
	for _, c := range f.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// use returns the manager in use and a channel closed when the failover
// moves away from it.
func (f *failover) use() (int, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current, f.moved
}

// host is a manager, for one call: its engine, and a channel closed once
// the failover has moved away from it.
type host struct {
	engine
	moved <-chan struct{}
}

// pick returns the manager in use, or the next one not tried yet.
func (f *failover) pick(tried []bool) (int, <-chan struct{}) {
	i, moved := f.use()
	for tried[i] {
		i = (i + 1) % len(f.hosts)
	}
	return i, moved
}

// moveFrom moves to the next manager if manager i, which failed with err,
// is still the one in use.
func (f *failover) moveFrom(i int, err error) {
	f.mu.Lock()
	if f.current != i {
		f.mu.Unlock()
		return
	}
	f.current = (i + 1) % len(f.hosts)
	close(f.moved)
	f.moved = make(chan struct{})
	next := f.hosts[f.current]
	f.mu.Unlock()
	f.log().Warn("oneshot: swarm manager failed; moving to the next one", "host", f.hosts[i], "next", next, "err", err)
}

// failsOver reports whether err, from a call on a manager, says to try
// another manager: the manager is unreachable or silent, its connection
// broke, or it is no manager (any longer) or has no leader.
func failsOver(err error) bool {
	var netErr net.Error
	switch {
	case err == nil:
		return false
	case isHostCut(err):
		return true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false // the caller's
	case client.IsErrConnectionFailed(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &netErr):
		return true
	case cerrdefs.IsUnavailable(err), cerrdefs.IsFailedPrecondition(err), cerrdefs.IsInternal(err), cerrdefs.IsUnknown(err):
		return notManagerText(err.Error())
	}
	return false
}

// notManagerText reports whether an engine's message says it cannot serve
// the swarm's API. Measured on Docker 20.10: a demoted manager answers 503
// (unavailable) "This node is not a swarm manager. Worker nodes can't be
// used..."; a manager whose peers are gone hangs for a while, then answers
// 500 (internal) "rpc error: code = Unknown desc = The swarm does not have
// a leader. It's possible that too few managers are online..."; an engine
// that left the swarm says "This node is not part of a swarm".
func notManagerText(msg string) bool {
	msg = strings.ToLower(msg)
	for _, s := range []string{"not a swarm manager", "does not have a leader", "not part of a swarm"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// retry makes a call on the manager in use and, while it fails in a way
// that says to try another, on the next ones, once each.
func retry[T any](ctx context.Context, f *failover, call func(context.Context, host) (T, error)) (T, error) {
	tried := make([]bool, len(f.hosts))
	var errs []error
	for range f.hosts {
		i, moved := f.pick(tried)
		tried[i] = true
		res, err := bounded(ctx, f, host{f.engines[i], moved}, call)
		if ctx.Err() != nil || !failsOver(err) {
			return res, err
		}
		errs = append(errs, fmt.Errorf("manager %s: %w", f.hosts[i], err))
		f.moveFrom(i, err)
	}
	var zero T
	return zero, fmt.Errorf("every swarm manager failed (%d tried): %w", len(f.hosts), errors.Join(errs...))
}

// bounded makes a call on manager h, cut after hostTimeout, or once the
// failover has moved away from h (the call is then made on the next).
func bounded[T any](ctx context.Context, f *failover, h host, call func(context.Context, host) (T, error)) (T, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := f.clock.AfterFunc(hostTimeout, func() { cancel(errHostSilent) })
	defer t.Stop()
	go func() {
		select {
		case <-h.moved:
			cancel(errHostLeft)
		case <-ctx.Done():
		}
	}()
	res, err := call(ctx, h)
	if cause := context.Cause(ctx); err != nil && isHostCut(cause) && !errors.Is(err, cause) {
		err = fmt.Errorf("%w: %w", cause, err)
	}
	return res, err
}

// isHostCut reports whether err is why the failover cut a call.
func isHostCut(err error) bool { return errors.Is(err, errHostSilent) || errors.Is(err, errHostLeft) }

// ServiceCreate creates a service on the manager in use, or on the next
// ones. A create whose answer was lost may have made the service: the
// next manager's create then meets its name (names are unique on a
// swarm), and the service is ours if it has our creation label.
func (f *failover) ServiceCreate(ctx context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	failed := false
	return retry(ctx, f, func(ctx context.Context, h host) (client.ServiceCreateResult, error) {
		res, err := h.ServiceCreate(ctx, o)
		if failed && isNameTaken(err) {
			if id, ok := createdBefore(ctx, h, o.Spec); ok {
				return client.ServiceCreateResult{ID: id}, nil
			}
		}
		failed = failed || failsOver(err)
		return res, err
	})
}

// createdBefore finds the service an earlier create of spec made: the
// one with its name and its creation label.
func createdBefore(ctx context.Context, e engine, spec swarm.ServiceSpec) (string, bool) {
	found, err := e.ServiceInspect(ctx, spec.Name, client.ServiceInspectOptions{})
	if err != nil || !sameCreation(found.Service.Spec.Labels, spec.Labels) {
		return "", false
	}
	return found.Service.ID, true
}

// ServiceUpdate updates a service. Making it again on another manager is
// safe: an update names the version it changes, and one that was made
// already makes the retry fail as out of sequence.
func (f *failover) ServiceUpdate(ctx context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.ServiceUpdateResult, error) {
		return h.ServiceUpdate(ctx, id, o)
	})
}

// ServiceRemove removes a service; a retry after a removal that was made
// finds it gone (not found), which oneshot takes as removed.
func (f *failover) ServiceRemove(ctx context.Context, id string, o client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.ServiceRemoveResult, error) {
		return h.ServiceRemove(ctx, id, o)
	})
}

// ServiceInspect is made on the manager in use, or on the next ones.
func (f *failover) ServiceInspect(ctx context.Context, id string, o client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.ServiceInspectResult, error) {
		return h.ServiceInspect(ctx, id, o)
	})
}

// ServiceList is made on the manager in use, or on the next ones.
func (f *failover) ServiceList(ctx context.Context, o client.ServiceListOptions) (client.ServiceListResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.ServiceListResult, error) { return h.ServiceList(ctx, o) })
}

// TaskList is made on the manager in use, or on the next ones.
func (f *failover) TaskList(ctx context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.TaskListResult, error) { return h.TaskList(ctx, o) })
}

// NodeList is made on the manager in use, or on the next ones.
func (f *failover) NodeList(ctx context.Context, o client.NodeListOptions) (client.NodeListResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.NodeListResult, error) { return h.NodeList(ctx, o) })
}

// SecretList is made on the manager in use, or on the next ones.
func (f *failover) SecretList(ctx context.Context, o client.SecretListOptions) (client.SecretListResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.SecretListResult, error) { return h.SecretList(ctx, o) })
}

// ConfigList is made on the manager in use, or on the next ones.
func (f *failover) ConfigList(ctx context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.ConfigListResult, error) { return h.ConfigList(ctx, o) })
}

// NetworkList is made on the manager in use, or on the next ones.
func (f *failover) NetworkList(ctx context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.NetworkListResult, error) { return h.NetworkList(ctx, o) })
}

// Info is made on the manager in use, or on the next ones.
func (f *failover) Info(ctx context.Context, o client.InfoOptions) (client.SystemInfoResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.SystemInfoResult, error) { return h.Info(ctx, o) })
}

// TaskLogs opens a task's log on the manager in use, or on the next ones;
// opening is bounded by hostTimeout, not the read. A followed log ends
// when the failover moves away from its manager: the follower reopens it.
func (f *failover) TaskLogs(ctx context.Context, taskID string, o client.TaskLogsOptions) (client.TaskLogsResult, error) {
	parent := ctx
	return retry(ctx, f, func(callCtx context.Context, h host) (client.TaskLogsResult, error) {
		return openStream(parent, callCtx, h, o.Follow, func(ctx context.Context) (client.TaskLogsResult, error) { return h.TaskLogs(ctx, taskID, o) })
	})
}

// openStream opens a log stream with open, under a context of its own: a
// child of parent, the caller's, that callCtx (retry's, bounded, and
// cancelled once the call returns) cuts only while the stream opens. A
// followed stream is ended when the failover moves away from the manager
// in use.
func openStream(parent, callCtx context.Context, h host, follow bool, open func(context.Context) (client.TaskLogsResult, error)) (client.TaskLogsResult, error) {
	ctx, cancel := context.WithCancelCause(parent)
	stopOpen := context.AfterFunc(callCtx, func() { cancel(context.Cause(callCtx)) })
	rc, err := open(ctx)
	if !stopOpen() && err == nil { // cut, but the answer came
		_ = rc.Close()
		err = context.Cause(callCtx)
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if follow {
		go func() {
			select {
			case <-h.moved:
				cancel(errHostLeft)
			case <-ctx.Done():
			}
		}()
	}
	return &stream{ReadCloser: rc, cancel: cancel}, nil
}

// stream is a log stream whose context ends with it.
type stream struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (s *stream) Close() error {
	err := s.ReadCloser.Close()
	s.cancel(nil)
	return err
}

// Events opens the event stream on the manager in use (the opening
// bounded by hostTimeout). It ends when the failover moves away from that
// manager, and an error that says to try another one moves it: the
// Runner's event loop then reopens it on the next.
func (f *failover) Events(ctx context.Context, o client.EventsListOptions) client.EventsResult {
	i, moved := f.use()
	caller := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	t := f.clock.AfterFunc(hostTimeout, func() { cancel(errHostSilent) })
	inner := f.engines[i].Events(ctx, o)
	t.Stop()
	errs := make(chan error, 1)
	go func() {
		defer cancel(nil)
		var err error
		select {
		case err = <-inner.Err:
		case <-moved:
			cancel(errHostLeft)
			err = <-inner.Err
		}
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		if caller.Err() == nil && failsOver(err) {
			f.moveFrom(i, err)
		}
		errs <- err
	}()
	return client.EventsResult{Messages: inner.Messages, Err: errs}
}

// SecretCreate creates a secret, as ServiceCreate creates a service: a
// retry that meets the name of the secret an earlier attempt made, with
// its creation label, takes it.
func (f *failover) SecretCreate(ctx context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	failed := false
	return retry(ctx, f, func(ctx context.Context, h host) (client.SecretCreateResult, error) {
		res, err := h.SecretCreate(ctx, o)
		if failed && isNameTaken(err) {
			found, listErr := h.SecretList(ctx, client.SecretListOptions{Filters: make(client.Filters).Add("name", o.Spec.Name)})
			for _, s := range found.Items {
				if listErr == nil && s.Spec.Name == o.Spec.Name && sameCreation(s.Spec.Labels, o.Spec.Labels) {
					return client.SecretCreateResult{ID: s.ID}, nil
				}
			}
		}
		failed = failed || failsOver(err)
		return res, err
	})
}

// ConfigCreate creates a config, as SecretCreate creates a secret.
func (f *failover) ConfigCreate(ctx context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	failed := false
	return retry(ctx, f, func(ctx context.Context, h host) (client.ConfigCreateResult, error) {
		res, err := h.ConfigCreate(ctx, o)
		if failed && isNameTaken(err) {
			found, listErr := h.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("name", o.Spec.Name)})
			for _, c := range found.Items {
				if listErr == nil && c.Spec.Name == o.Spec.Name && sameCreation(c.Spec.Labels, o.Spec.Labels) {
					return client.ConfigCreateResult{ID: c.ID}, nil
				}
			}
		}
		failed = failed || failsOver(err)
		return res, err
	})
}

// isNameTaken reports whether a create failed because the name is taken.
func isNameTaken(err error) bool { return cerrdefs.IsConflict(err) || cerrdefs.IsAlreadyExists(err) }

// sameCreation reports whether an object with labels found was made by
// the create that had want: they have the same creation label.
func sameCreation(found, want map[string]string) bool {
	return want[LabelCreated] != "" && found[LabelCreated] == want[LabelCreated]
}

// SecretUpdate is versioned, as ServiceUpdate is: made again on the next
// managers.
func (f *failover) SecretUpdate(ctx context.Context, id string, o client.SecretUpdateOptions) (client.SecretUpdateResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.SecretUpdateResult, error) {
		return h.SecretUpdate(ctx, id, o)
	})
}

// SecretRemove is made again on the next managers, as ServiceRemove is.
func (f *failover) SecretRemove(ctx context.Context, id string, o client.SecretRemoveOptions) (client.SecretRemoveResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.SecretRemoveResult, error) {
		return h.SecretRemove(ctx, id, o)
	})
}

// ConfigUpdate is versioned, as ServiceUpdate is: made again on the next
// managers.
func (f *failover) ConfigUpdate(ctx context.Context, id string, o client.ConfigUpdateOptions) (client.ConfigUpdateResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.ConfigUpdateResult, error) {
		return h.ConfigUpdate(ctx, id, o)
	})
}

// ConfigRemove is made again on the next managers, as ServiceRemove is.
func (f *failover) ConfigRemove(ctx context.Context, id string, o client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	return retry(ctx, f, func(ctx context.Context, h host) (client.ConfigRemoveResult, error) {
		return h.ConfigRemove(ctx, id, o)
	})
}

// checkHosts checks WithHosts' list: at least one host, each once. Each
// host's address is checked as its client is made (clientForHost).
func checkHosts(hosts []string) error {
	if len(hosts) == 0 {
		return errors.New(`oneshot: WithHosts(): no host; give the swarm's managers, e.g. WithHosts("tcp://10.0.0.1:2375", "tcp://10.0.0.2:2375")`)
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if seen[h] {
			return fmt.Errorf("oneshot: WithHosts: %q is given twice; give each manager once", h)
		}
		seen[h] = true
	}
	return nil
}
