package oneshot

import (
	"context"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// cleanupTimeout bounds the removal of a job's service once the caller's
// context is done (the job's WaitDelay, in os/exec's words).
const cleanupTimeout = 30 * time.Second

// cleanup removes the job's service, unless the spec keeps it, and stops
// watching it. It uses a bounded context of its own, so that a job stopped
// by its context is still removed.
func (j *Job) cleanup(ctx context.Context) error {
	// Stop watching first: the shared poll must not ask for a removed service.
	j.runner.watch.remove(j.id)
	if j.spec.Keep {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := j.runner.api.ServiceRemove(ctx, j.id, client.ServiceRemoveOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return &CleanupError{ServiceID: j.id, Err: err}
	}
	j.runner.log.Debug("oneshot: removed job service", "service", j.name, "id", j.id)
	return nil
}
