package oneshot

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Several processes may wait on one job: the one that started it, others
// that attached to it (Attach) or came with its idempotency key. Each
// waiter reads the job's whole Result itself, and the service must stay
// until the last of them has read it. Each waiter holds a lease on the
// service: a label of the service (not of its container, so that setting
// it changes nothing of the task) named after the waiter, whose value is
// when the lease expires:
//
//	oneshot.waiter.3f9a0c21d4e7=2026-12-01T21:40:00Z
//
// The waiter that starts the job puts its lease in the create request;
// one that attaches adds its own. A lease lasts leaseTTL; the Runner's
// presence (presence.go) holds the leases of its jobs that run longer, so
// that a waiter that dies holds the service at most leaseTTL. A waiter done with the job drops its lease, and the
// last one (no live lease but its own) removes the service. Each change
// is written against the version of the service it read, so that two
// waiters finishing at once cannot both leave it, nor a waiter that just
// attached see it removed under it unless it came too late. Prune leaves
// a service alone while any lease on it is live.
const (
	// LabelWaiterPrefix starts the label of each waiter's lease.
	LabelWaiterPrefix = "oneshot.waiter."
	leaseTTL          = 3 * time.Minute
	leaseRenewEvery   = time.Minute
	// writeRetries bounds the writes that lost a race with another
	// waiter's (or the park's) and are tried again on a fresh read, after
	// a random pause that grows with each try (raceBackoff).
	writeRetries = 20
)

// waiterLabel is the label of the lease of the waiter named id.
func waiterLabel(id string) string { return LabelWaiterPrefix + id }

// leaseValue is a lease's label value: when it expires.
func leaseValue(expires time.Time) string { return expires.UTC().Format(time.RFC3339) }

// liveWaiters lists the waiters whose lease on a service with these labels
// is live at now, or held by a live presence (held, presence.go), except
// the one named except.
func liveWaiters(labels map[string]string, now time.Time, except string, held map[string]bool) []string {
	var live []string
	for id, expires := range leases(labels) {
		if id != except && (now.Before(expires) || held[id]) {
			live = append(live, id)
		}
	}
	return live
}

// leases lists the leases on a service with these labels, with when each
// ends.
func leases(labels map[string]string) map[string]time.Time {
	out := map[string]time.Time{}
	for k, v := range labels {
		id, ok := strings.CutPrefix(k, LabelWaiterPrefix)
		if !ok {
			continue
		}
		if expires, err := time.Parse(time.RFC3339, v); err == nil {
			out[id] = expires
		}
	}
	return out
}

// withLease returns labels with the lease of waiter set to expire at
// expires, or dropped when expires is zero.
func withLease(labels map[string]string, waiter string, expires time.Time) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	if expires.IsZero() {
		delete(out, waiterLabel(waiter))
	} else {
		out[waiterLabel(waiter)] = leaseValue(expires)
	}
	return out
}

// setLease writes the lease of waiter on the service id (expires zero
// drops it), on a fresh read of the service each time another write came
// first.
func (r *Runner) setLease(ctx context.Context, id, waiter string, expires time.Time) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serviceCallTimeout)
	defer cancel()
	var err error
	for try := range writeRetries {
		var found client.ServiceInspectResult
		if found, err = r.api.ServiceInspect(ctx, id, client.ServiceInspectOptions{}); err != nil {
			return err
		}
		if err = r.writeLabels(ctx, found.Service, withLease(found.Service.Spec.Labels, waiter, expires)); !isOutOfSequence(err) {
			return err
		}
		raceBackoff(ctx, try)
	}
	return err
}

// raceBackoff pauses before the next try of a write that lost a race:
// a random time up to 10 ms doubled with each try (at most 320 ms), so
// that writers racing for one service spread out. It is real time, not
// the Runner's clock: the writers race in real time.
func raceBackoff(ctx context.Context, try int) {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(10*time.Millisecond) << min(try, 5))))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// writeLabels writes the service's labels, against the version read.
func (r *Runner) writeLabels(ctx context.Context, s swarm.Service, labels map[string]string) error {
	spec := s.Spec
	spec.Labels = labels
	_, err := r.api.ServiceUpdate(ctx, s.ID, client.ServiceUpdateOptions{Version: s.Version, Spec: spec})
	return err
}

// isOutOfSequence reports whether an update lost the race with another
// one: the version it was written against is no longer the service's.
func isOutOfSequence(err error) bool {
	return err != nil && strings.Contains(err.Error(), "update out of sequence")
}

// holdLease has the Runner's presence hold the job's lease until
// stopRenewing (presence.go).
func (j *Job) holdLease() {
	j.leaseMu.Lock()
	defer j.leaseMu.Unlock()
	if !j.leaseStopped {
		j.runner.holdLease(j.waiter, j.started.Add(leaseTTL))
	}
}

// stopRenewing stops holding the job's lease.
func (j *Job) stopRenewing() {
	j.leaseMu.Lock()
	defer j.leaseMu.Unlock()
	if !j.leaseStopped {
		j.leaseStopped = true
		j.runner.dropLease(j.waiter)
	}
}

// leaveService is what a waiter that has read the job's Result does with
// its service: the last live waiter removes it, unless the job is kept;
// any other drops its lease and leaves it to the others. It says whether
// it removed the service.
func (j *Job) leaveService() (removed bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), serviceCallTimeout)
	defer cancel()
	if j.mayRemoveUnread() {
		return true, j.runner.removeService(ctx, j.id)
	}
	failed := retryCleanup{clock: j.clock()}
	for try := 0; try < writeRetries; {
		found, err := j.runner.api.ServiceInspect(ctx, j.id, client.ServiceInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			return false, nil // another waiter removed it
		case err != nil && failed.again(ctx, err):
			continue
		case err != nil:
			return false, &CleanupError{ServiceID: j.id, Err: failed.say(err)}
		}
		s := found.Service
		others := j.runner.liveWaitersHeld(ctx, s.Spec.Labels, j.waiter)
		if len(others) == 0 && !j.kept(s.Spec.Labels) {
			return true, j.runner.removeService(ctx, j.id)
		}
		err = j.runner.writeLabels(ctx, s, withLease(s.Spec.Labels, j.waiter, time.Time{}))
		switch {
		case err == nil || cerrdefs.IsNotFound(err):
			j.runner.log.Debug("oneshot: job service left to its other waiters", "service", j.name, "waiters", len(others))
			return false, nil
		case isOutOfSequence(err):
			raceBackoff(ctx, try)
			try++
		case !failed.again(ctx, err):
			return false, &CleanupError{ServiceID: j.id, Err: failed.say(err)}
		}
	}
	return false, &CleanupError{ServiceID: j.id, Err: errors.New("its labels kept changing under oneshot's writes")}
}

// mayRemoveUnread reports whether the job's service may be removed without
// reading its labels first (which would cost every job a request): this
// Job made it with its own lease in it and wrote nothing to it since, and
// the Runner's event stream, open all along, saw it created and never
// updated, so no other waiter has written its lease. An attacher's lease
// written in the instant before its update event arrives is the window
// left, as narrow as the one between a read and the removal.
func (j *Job) mayRemoveUnread() bool {
	return !j.attached && !j.spec.Keep && !j.wrote.Load() && j.runner.watch.untouched(j.id)
}

// kept reports whether the job's service stays once the job is over:
// this waiter's WithKeep, or the one it was started with.
func (j *Job) kept(labels map[string]string) bool {
	return j.spec.Keep || labels[LabelKeep] == "true"
}
