package oneshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
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
// multiplexed (stdout and stderr in 8-byte-header frames); stdcopy splits
// them. A follow request does not end when the task does (and lags behind
// it), so oneshot never waits for one to end: the live follower streams
// while the task runs, and once the task has ended one complete read (no
// follow), which always ends, gives the whole output; the part the follower
// had not written yet goes to the writers then.

// logFollower streams one task's logs to the job's writers while it runs.
type logFollower struct {
	taskID         string
	cancel         context.CancelFunc
	done           chan struct{}
	stdout, stderr countingWriter
}

// followLogs starts following task's logs to the job's writers.
func (j *Job) followLogs(taskID string) *logFollower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &logFollower{taskID: taskID, cancel: cancel, done: make(chan struct{}),
		stdout: countingWriter{w: j.spec.Stdout}, stderr: countingWriter{w: j.spec.Stderr}}
	go func() {
		defer close(f.done)
		rc, err := j.runner.api.TaskLogs(ctx, taskID, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
		if err != nil {
			return // the complete read at the end makes up for it
		}
		defer rc.Close()
		_, _ = stdcopy.StdCopy(&f.stdout, &f.stderr, rc)
	}()
	return f
}

// stop ends the follower and returns how many bytes of each stream it wrote.
func (f *logFollower) stop() (stdout, stderr int64) {
	f.cancel()
	<-f.done
	return f.stdout.n, f.stderr.n
}

// flushLogs reads task's complete logs once, keeps them in out (if not nil)
// and writes to the job's writers what the follower (if any) had not
// written yet.
func (j *Job) flushLogs(ctx context.Context, taskID string, f *logFollower, out *output) error {
	var skipOut, skipErr int64
	if f != nil {
		skipOut, skipErr = f.stop()
	}
	rc, err := j.runner.api.TaskLogs(ctx, taskID, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return err
	}
	defer rc.Close()
	if out == nil {
		out = &output{}
	}
	stdout := &logSink{live: j.spec.Stdout, skip: skipOut, keep: &out.stdout}
	stderr := &logSink{live: j.spec.Stderr, skip: skipErr, keep: &out.stderr, tail: &out.stderrTail}
	_, err = stdcopy.StdCopy(stdout, stderr, rc)
	return err
}

// collectLogs reads the finished job's output into res, within a bounded
// time of its own, so that a timed-out or cancelled job still shows what it
// printed.
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
	var follower *logFollower
	if obs.follower != nil && obs.follower.taskID == task.ID {
		follower = obs.follower
	} else if obs.follower != nil {
		obs.follower.stop()
	}
	out := &output{stdout: capped{limit: j.spec.outputLimit()}, stderr: capped{limit: j.spec.outputLimit()}, stderrTail: tail{size: stderrTailSize}}
	err := j.flushLogs(ctx, task.ID, follower, out)
	res.Stdout, res.StdoutDropped = out.stdout.buf, out.stdout.dropped
	res.Stderr, res.StderrDropped = out.stderr.buf, out.stderr.dropped
	if err != nil {
		return out.stderrTail.bytes(), fmt.Errorf("oneshot: read the logs of job %s: %w", j.name, err)
	}
	return out.stderrTail.bytes(), nil
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

// output is what a job printed, as kept for its Result.
type output struct {
	stdout, stderr capped
	stderrTail     tail
}

// logSink receives one stream of a complete log read: it skips the bytes
// the follower already wrote to the live writer, writes the rest there, and
// keeps a copy.
type logSink struct {
	live io.Writer
	skip int64
	keep *capped
	tail *tail
}

func (s *logSink) Write(p []byte) (int, error) {
	s.keep.write(p)
	if s.tail != nil {
		s.tail.write(p)
	}
	if s.live == nil {
		return len(p), nil
	}
	rest := p
	if s.skip > 0 {
		n := min(s.skip, int64(len(rest)))
		rest, s.skip = rest[n:], s.skip-n
	}
	if len(rest) > 0 {
		if _, err := s.live.Write(rest); err != nil {
			s.live = nil // a broken writer must not lose the Result
		}
	}
	return len(p), nil
}

// countingWriter writes to w, if any, and counts the bytes.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.w != nil {
		if _, err := c.w.Write(p); err != nil {
			c.w = nil
		}
	}
	c.n += int64(len(p))
	return len(p), nil
}

// capped keeps the first limit bytes written to it and counts the rest.
type capped struct {
	limit   int
	buf     []byte
	dropped int64
}

func (c *capped) write(p []byte) {
	room := max(c.limit-len(c.buf), 0)
	n := min(room, len(p))
	c.buf = append(c.buf, p[:n]...)
	c.dropped += int64(len(p) - n)
}

// tail keeps the last size bytes written to it.
type tail struct {
	size int
	buf  []byte
}

func (t *tail) write(p []byte) {
	if len(p) >= t.size {
		t.buf = append(t.buf[:0], p[len(p)-t.size:]...)
		return
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.size; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
}

func (t *tail) bytes() []byte { return t.buf }
