package oneshot

import (
	"context"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// A Runner's presence holds the leases of its jobs that outlive them
// (waiters.go). A job's lease, written on its service when the service is
// made or attached to, lasts leaseTTL; renewing it on each service would
// cost two requests a job a minute. Instead, while a job of the Runner has
// a lease that ends within holdAhead, the Runner keeps one swarm config,
// its presence, whose labels say until when it is alive and which of its
// waiters it holds:
//
//	config oneshot-runner-5d1c93ab02ff
//	  oneshot.runner=5d1c93ab02ff
//	  oneshot.runner.alive-until=2026-12-01T21:40:00Z
//	  oneshot.runner.holds.3f9a0c21d4e7=
//
// A waiter is live while its own lease is, or while a live presence holds
// it. The Runner renews its presence every leaseRenewEvery (two requests,
// however many jobs it holds), and removes it once it holds no waiter (its
// last long job is over), before that job's Wait returns. A presence left
// by a process that died expires after leaseTTL, and Prune removes it.
// Should the presence fail to be written, each job's lease is renewed on
// its service instead.
const (
	// LabelRunner marks a Runner's presence; its value is the Runner's ID.
	LabelRunner = "oneshot.runner"
	// LabelRunnerAliveUntil is until when the Runner is alive (RFC 3339).
	LabelRunnerAliveUntil = "oneshot.runner.alive-until"
	// LabelRunnerHoldsPrefix starts the label of each waiter the presence
	// holds.
	LabelRunnerHoldsPrefix = "oneshot.runner.holds."
	// holdAhead is how close to its end a lease is held, at a renewal:
	// under two renewals, so that a job that lasts under two minutes is
	// never held (its own lease outlasts it), and enough over one to leave
	// at least 40 s to write the presence (or else renew each lease)
	// before the lease ends.
	holdAhead = leaseRenewEvery + 40*time.Second
	// presenceCallTimeout bounds each write of the presence.
	presenceCallTimeout = 10 * time.Second
)

// presence is a Runner's presence, as the Runner knows it.
type presence struct {
	mu sync.Mutex
	id string
	// leases lists the Runner's waiters, with when their own lease ends;
	// configID is the presence's config, once made.
	leases   map[string]time.Time
	configID string
	// tick is the next renewal, the ticks-th set: a renewal that finds
	// another set in its place was stopped and does nothing.
	tick  timer
	ticks int
}

// presenceName is the name of the config of the presence of Runner id.
func presenceName(id string) string { return "oneshot-runner-" + id }

// holdLease has the Runner's presence hold waiter once its lease, which
// ends at expires, is near its end, until dropLease.
func (r *Runner) holdLease(waiter string, expires time.Time) {
	p := &r.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.id == "" {
		p.id = newWaiterID()
	}
	if p.leases == nil {
		p.leases = map[string]time.Time{}
	}
	p.leases[waiter] = expires
	if p.tick == nil {
		r.nextRenewal(p)
	}
}

// nextRenewal sets the presence's next renewal. Called with p.mu held.
func (r *Runner) nextRenewal(p *presence) {
	p.ticks++
	tick := p.ticks
	p.tick = r.clock.AfterFunc(leaseRenewEvery, func() { r.renewPresence(tick) })
}

// dropLease stops holding waiter; the presence is removed once it holds
// no waiter, before dropLease returns.
func (r *Runner) dropLease(waiter string) {
	p := &r.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.leases, waiter)
	if len(p.leases) > 0 {
		return
	}
	if p.tick != nil {
		p.tick.Stop()
		p.tick = nil
	}
	if p.configID != "" {
		r.removePresence(p)
	}
}

// renewPresence, the tick-th renewal, writes the presence if a lease is
// near its end, and sets the next renewal.
func (r *Runner) renewPresence(tick int) {
	p := &r.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tick == nil || tick != p.ticks {
		return // stopped meanwhile
	}
	defer r.nextRenewal(p) // once this one is done: a test moving the clock waits for it
	now := r.clock.Now()
	due := map[string]bool{}
	for waiter, expires := range p.leases {
		if expires.Before(now.Add(holdAhead)) {
			due[waiter] = true
		}
	}
	if len(due) == 0 {
		if p.configID != "" {
			r.removePresence(p) // the long jobs it held are over
		}
		return
	}
	if err := r.writePresence(p, due, now.Add(leaseTTL)); err != nil {
		r.log.Warn("oneshot: write the Runner's presence; renewing each job's lease instead", "err", err)
		r.renewEach(p, due, now.Add(leaseTTL))
	}
}

// writePresence makes or updates the presence's config so that it holds
// waiters until until.
func (r *Runner) writePresence(p *presence, waiters map[string]bool, until time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), presenceCallTimeout)
	defer cancel()
	spec := swarm.ConfigSpec{Annotations: swarm.Annotations{Name: presenceName(p.id), Labels: presenceLabels(p.id, waiters, until)},
		Data: []byte("the presence of a oneshot Runner: it holds the leases of its waiters on job services\n")}
	if p.configID != "" {
		err := r.updatePresence(ctx, p, spec)
		if !cerrdefs.IsNotFound(err) {
			return err
		}
		p.configID = "" // removed under it (Prune, once it had expired): made again
	}
	made, err := r.api.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: spec})
	switch {
	case isNameTaken(err):
		return r.updatePresence(ctx, p, spec) // an earlier create whose answer was lost made it: take it
	case err != nil:
		return err
	}
	p.configID = made.ID
	return nil
}

// updatePresence writes spec on the config of the presence p, found by
// its Runner's label and its name, against the version read.
func (r *Runner) updatePresence(ctx context.Context, p *presence, spec swarm.ConfigSpec) error {
	list, err := r.api.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", LabelRunner+"="+p.id)})
	if err != nil {
		return err
	}
	for _, c := range list.Items {
		if c.Spec.Name == spec.Name {
			p.configID = c.ID
			spec.Data = c.Spec.Data // only the labels of a config may change
			_, err := r.api.ConfigUpdate(ctx, c.ID, client.ConfigUpdateOptions{Version: c.Version, Spec: spec})
			return err
		}
	}
	return cerrdefs.ErrNotFound.WithMessage("config " + spec.Name + " not found")
}

// presenceLabels are the labels of the presence of Runner id.
func presenceLabels(id string, waiters map[string]bool, until time.Time) map[string]string {
	labels := map[string]string{LabelRunner: id, LabelRunnerAliveUntil: leaseValue(until)}
	for waiter := range waiters {
		labels[LabelRunnerHoldsPrefix+waiter] = ""
	}
	return labels
}

// renewEach renews each waiter's lease on its job's service, when the
// presence could not be written.
func (r *Runner) renewEach(p *presence, waiters map[string]bool, until time.Time) {
	for _, j := range r.jobsOf(waiters) {
		j.wrote.Store(true)
		if err := r.setLease(context.Background(), j.id, j.waiter, until); err != nil && !cerrdefs.IsNotFound(err) {
			r.log.Warn("oneshot: renew the job's waiter lease", "service", j.name, "err", err)
			continue
		}
		p.leases[j.waiter] = until
	}
}

// jobsOf returns the Runner's jobs in flight among waiters.
func (r *Runner) jobsOf(waiters map[string]bool) []*Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Job
	for j := range r.inFlight {
		if waiters[j.waiter] {
			out = append(out, j)
		}
	}
	return out
}

// removePresence removes the presence's config; one left behind expires.
func (r *Runner) removePresence(p *presence) {
	ctx, cancel := context.WithTimeout(context.Background(), presenceCallTimeout)
	defer cancel()
	if _, err := r.api.ConfigRemove(ctx, p.configID, client.ConfigRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		r.log.Warn("oneshot: remove the Runner's presence; it expires", "config", presenceName(p.id), "err", err)
	}
	p.configID = ""
}

// heldWaiters lists the waiters that live presences on the swarm hold,
// and the presences that have expired.
func (r *Runner) heldWaiters(ctx context.Context) (held map[string]bool, expired []swarm.Config, err error) {
	list, err := r.api.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", LabelRunner)})
	if err != nil {
		return nil, nil, err
	}
	held = map[string]bool{}
	now := r.clock.Now()
	for _, c := range list.Items {
		until, err := time.Parse(time.RFC3339, c.Spec.Labels[LabelRunnerAliveUntil])
		if err != nil || !now.Before(until) {
			expired = append(expired, c)
			continue
		}
		for k := range c.Spec.Labels {
			if waiter, ok := strings.CutPrefix(k, LabelRunnerHoldsPrefix); ok {
				held[waiter] = true
			}
		}
	}
	return held, expired, nil
}

// liveWaitersHeld lists the live waiters on a service with these labels
// but except, asking the swarm which presences hold those whose own lease
// has ended, if any has. If it cannot tell, it counts them as live.
func (r *Runner) liveWaitersHeld(ctx context.Context, labels map[string]string, except string) []string {
	now := r.clock.Now()
	live := liveWaiters(labels, now, except, nil)
	all := leases(labels)
	delete(all, except)
	if len(live) == len(all) {
		return live
	}
	held, _, err := r.heldWaiters(ctx)
	if err != nil {
		return liveWaiters(labels, time.Time{}, except, nil) // every lease, ended or not
	}
	return liveWaiters(labels, now, except, held)
}
