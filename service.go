package oneshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// A job's swarm service goes through three changes, each one request or
// two, each with a bounded context of its own so that a caller's cancelled
// context never leaves one half done (the job's WaitDelay, in os/exec's
// words): it is created, parked when the job must stop before its end, and
// removed (or kept, parked).
const (
	// serviceCallTimeout bounds each of these changes.
	serviceCallTimeout = 30 * time.Second
	// parkConstraint is a placement constraint no node satisfies. Parking
	// a job's service adds it: the swarm stops the job's task (SIGTERM,
	// then SIGKILL after the stop grace period) and keeps it, with its
	// exit code and its log, in the service's history; the task it makes
	// in its place never runs. Scaling to zero would stop the task too,
	// but the swarm then deletes the task and its container, and the log
	// with them, as soon as the container has exited (measured on 20.10).
	// A kept job stays parked: scaling it to zero afterwards would make
	// the swarm delete that never-running task, and a manager of Docker
	// 20.10 crashes when the service is removed while it deletes one of
	// its tasks (swarmkit's SetServiceTasksRemove, seen here).
	parkConstraint = "node.id==oneshot.stopped"
	// reaperSettle is how long after the swarm made the never-running
	// task the service may be removed: the swarm's task reaper looks at a
	// slot 250 ms after a task was added to it, and deletes its oldest
	// tasks if it holds more than the task history limit.
	reaperSettle = 500 * time.Millisecond
)

// createService creates a job's service. The request is never abandoned
// half-way: once sent it runs to its end whatever becomes of ctx, so that a
// service the engine made is known and can be stopped and removed. A
// create that fails without saying so may still have made the service: it
// is looked up by its name and creation label, and removed.
func (r *Runner) createService(ctx context.Context, spec swarm.ServiceSpec, auth string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serviceCallTimeout)
	defer cancel()
	created, err := r.api.ServiceCreate(callCtx, client.ServiceCreateOptions{Spec: spec, EncodedRegistryAuth: auth})
	if err == nil {
		return created.ID, nil
	}
	if !cerrdefs.IsConflict(err) && !cerrdefs.IsAlreadyExists(err) {
		if orphan := r.removeOrphan(ctx, spec.Annotations); orphan != nil {
			err = errors.Join(err, orphan)
		}
	}
	return "", err
}

// removeOrphan removes the service a failed create may have made anyway:
// the one with its name and its creation label.
func (r *Runner) removeOrphan(ctx context.Context, meta swarm.Annotations) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serviceCallTimeout)
	defer cancel()
	found, err := r.api.ServiceInspect(ctx, meta.Name, client.ServiceInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		return nil
	case err != nil:
		return &CleanupError{ServiceID: meta.Name, Err: fmt.Errorf("find the service that a failed create may have made: %w", err)}
	case found.Service.Spec.Labels[LabelCreated] != meta.Labels[LabelCreated]:
		return nil // another service of that name, not ours
	}
	return r.removeService(ctx, found.Service.ID)
}

// parkService stops the job's task without losing it (see parkConstraint).
// It tries again when the service changed between reading and updating it
// (a waiter's lease, see waiters.go), and up to three times on an error.
func (r *Runner) parkService(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serviceCallTimeout)
	defer cancel()
	var err error
	for try := range writeRetries {
		if err = r.parkOnce(ctx, id); err == nil || cerrdefs.IsNotFound(err) {
			return err
		}
		if isOutOfSequence(err) {
			raceBackoff(ctx, try) // a waiter's lease was written meanwhile
		} else if try >= 2 {
			return err
		}
	}
	return err
}

// parkOnce reads the service and writes it back parked.
func (r *Runner) parkOnce(ctx context.Context, id string) error {
	found, err := r.api.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	if err != nil {
		return err
	}
	spec := found.Service.Spec
	if p := spec.TaskTemplate.Placement; p != nil && slices.Contains(p.Constraints, parkConstraint) {
		return nil // parked already: by another waiter, or by a try whose answer was lost
	}
	placement := &swarm.Placement{}
	if spec.TaskTemplate.Placement != nil {
		*placement = *spec.TaskTemplate.Placement
	}
	placement.Constraints = slices.Concat(placement.Constraints, []string{parkConstraint})
	spec.TaskTemplate.Placement = placement
	_, err = r.api.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: found.Service.Version, Spec: spec})
	return err
}

// removeTries bounds the tries of a cleanup call (a removal, or the read
// and write of a waiter leaving) that a manager answered with a failure
// other than the service being gone: a loaded engine may fail one call
// that the next one passes, and a service left behind is what oneshot
// must not do. Removing is idempotent: a try whose answer was lost but
// that removed the service makes the next one find it gone, which is
// success.
const removeTries = 4

// removeService removes the job's service; one that is already gone is no
// error. A try that fails is made again (retryCleanup).
func (r *Runner) removeService(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serviceCallTimeout)
	defer cancel()
	failed := retryCleanup{clock: r.clock}
	for {
		_, err := r.api.ServiceRemove(ctx, id, client.ServiceRemoveOptions{})
		if err == nil || cerrdefs.IsNotFound(err) {
			return nil
		}
		r.log.Debug("oneshot: removing the job service failed", "service", id, "try", failed.n+1, "err", err)
		if !failed.again(ctx, err) {
			return &CleanupError{ServiceID: id, Err: failed.say(err)}
		}
	}
}

// retryCleanup counts the failed tries of a cleanup call, to make it
// again after a pause (cleanupPause) on the Runner's clock: removeTries
// in all of those a manager answered. A try that no manager could serve
// (see failsOver: none reachable or answering, or the swarm has no
// leader, as during the election after a manager's loss) does not count:
// the call is made again until its context ends (serviceCallTimeout), as
// the job's wait rides out a manager's loss.
type retryCleanup struct {
	clock    clock
	n        int // the tries that failed
	answered int // those a manager answered
}

// again notes a try that failed with err and says whether to make
// another one, after its pause.
func (f *retryCleanup) again(ctx context.Context, err error) bool {
	f.n++
	if !failsOver(err) {
		f.answered++
	}
	return f.answered < removeTries && sleep(f.clock, cleanupPause(f.n), ctx.Done())
}

// say is the error of the last try, with how many were made.
func (f *retryCleanup) say(err error) error {
	if f.n > 1 {
		return fmt.Errorf("%w (tried %d times)", err, f.n)
	}
	return err
}

// cleanupPause is the pause after the n-th failed try of a cleanup call
// (from 1): 50 ms, doubling up to 2 s.
func cleanupPause(n int) time.Duration {
	return min(removePause<<min(n-1, 8), maxCleanupPause)
}

const (
	removePause     = 50 * time.Millisecond
	maxCleanupPause = 2 * time.Second
)
