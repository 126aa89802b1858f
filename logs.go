package oneshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// How long reading a finished task's logs may take, and how long when the
// job already failed in a way that may have taken its logs along (a lost
// node) or its context is done (timeout, cancellation).
const (
	logReadTimeout      = 2 * time.Minute
	logReadTimeoutShort = 5 * time.Second
	stderrTailSize      = 4 << 10
)

// The swarm keeps a task's logs on the node that ran it and serves them
// multiplexed (stdout and stderr in 8-byte-header frames). A follow request
// does not end when the task does (and lags behind it), so oneshot never
// waits for one to end: the live follower streams while the task runs, and
// once the task has ended one last read without follow, which always ends,
// gives the entries logged since the follower's last one; output.go puts
// the reads together.

// logFollower streams one task's logs into its output while it runs.
type logFollower struct {
	out    *taskOutput
	cancel context.CancelFunc
	done   chan struct{}
}

// followLogs starts following the logs of out's task.
func (j *Job) followLogs(out *taskOutput) *logFollower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &logFollower{out: out, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		rc, err := j.runner.api.TaskLogs(ctx, out.taskID, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true})
		if err != nil {
			return // the last read makes up for it
		}
		defer rc.Close()
		_, _ = io.Copy(out, rc)
	}()
	return f
}

// stop ends the follower; its output is then safe to read.
func (f *logFollower) stop() {
	f.cancel()
	<-f.done
}

// flushLogs stops the follower, if any, and reads out's task's logs once
// more, from a little before the follower's last entry (all of them when
// it read none), taking what out does not have yet.
func (j *Job) flushLogs(ctx context.Context, out *taskOutput, f *logFollower) error {
	if f != nil {
		f.stop()
	}
	opts := client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true}
	since := out.since()
	if !since.IsZero() {
		opts.Since = since.Format(time.RFC3339Nano)
	}
	rc, err := j.runner.api.TaskLogs(ctx, out.taskID, opts)
	if err != nil {
		return err
	}
	defer rc.Close()
	r := out.resume(since)
	if _, err := io.Copy(r, rc); err != nil {
		return err
	}
	if err := r.err(); err != nil {
		return err
	}
	r.finish()
	return nil
}

// collectLogs reads the finished job's output into res, within a bounded
// time of its own, so that a timed-out or cancelled job still shows what it
// printed. It returns the end of stderr, for an ExitError.
func (j *Job) collectLogs(ctx context.Context, v verdict, res *Result, obs *observer) ([]byte, error) {
	task := v.task
	if task == nil || !hadContainer(*task) {
		if obs.follower != nil {
			obs.follower.stop()
		}
		return nil, nil // the task never had a container: no logs
	}
	timeout := logReadTimeout
	if ctx.Err() != nil || errors.Is(v.kind, ErrNodeLost) {
		timeout = logReadTimeoutShort
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	follower := obs.follower
	if follower != nil && follower.out.taskID != task.ID {
		follower.stop() // a task replaced by the one that decided the job
		follower = nil
	}
	var out *taskOutput
	if follower != nil {
		out = follower.out
	} else {
		out = newTaskOutput(task.ID, &j.spec)
	}
	err := j.flushLogs(ctx, out, follower)
	res.Stdout, res.StdoutDropped = out.stdout.keep.buf, out.stdout.keep.dropped
	res.Stderr, res.StderrDropped = out.stderr.keep.buf, out.stderr.keep.dropped
	if err != nil {
		return out.stderrTail(), fmt.Errorf("oneshot: read the logs of job %s: %w", j.name, err)
	}
	return out.stderrTail(), out.incomplete(j.name)
}

// hadContainer reports whether task got as far as having a container that
// may have printed something.
func hadContainer(task swarm.Task) bool {
	if cs := task.Status.ContainerStatus; cs != nil && cs.ContainerID != "" {
		return true
	}
	switch TaskState(task.Status.State) {
	case StateStarting, StateRunning, StateComplete:
		return true
	}
	return false
}
