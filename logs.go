package oneshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// The swarm keeps a task's log on the node that ran it and serves it
// multiplexed: each entry a frame (an 8-byte header naming stdout or
// stderr, and the length) whose payload starts with the time the engine
// logged it. A follow request does not end when the task does, and may
// stall, skip or serve entries again when the log rotates; so oneshot
// never waits for one to end. The follower streams the log while the task
// runs, and once the task has ended the final read, without follow, which
// always ends, serves the whole log; output.go puts the two together.

// How long the final read of a task's log may take: long enough for a
// large output; short once the job failed in a way that may have taken its
// logs along (a lost node).
const (
	logReadTimeout      = 2 * time.Minute
	logReadTimeoutShort = 10 * time.Second
	stderrTailSize      = 4 << 10
)

// entry is one entry of a task's log: a line of its output, a piece of a
// long line (the engine cuts lines into entries of at most 16 KiB that
// share the line's time), or the end of its output without a newline.
type entry struct {
	stderr bool
	time   time.Time
	text   []byte
}

// follower streams one task's log into its output while the task runs.
type follower struct {
	out    *taskOutput
	cancel context.CancelFunc
	done   chan struct{}
}

// follow starts following the log of out's task. Its output must not be
// touched until stop returns.
func (r *Runner) follow(out *taskOutput) *follower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{out: out, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		r.followLog(ctx, out)
	}()
	return f
}

// maxFollowRetry caps the pause before a broken follow is opened again.
const maxFollowRetry = 2 * time.Second

// followLog follows the log of out's task until ctx is done. A follow
// that breaks (its manager restarted, or WithHosts moved to another one)
// or cannot be opened is opened again, from the log's start (output.go
// skips, checking them, the entries already taken): at once after a
// follow that lived, then after pauses doubling up to maxFollowRetry. A
// follow that never comes back leaves the rest to the final read.
func (r *Runner) followLog(ctx context.Context, out *taskOutput) {
	var retry time.Duration
	for reads := 0; ; reads++ {
		if reads > 0 {
			out.refollow()
		}
		opened := r.clock.Now()
		err := r.followOnce(ctx, out)
		if ctx.Err() != nil {
			return
		}
		if r.clock.Now().Sub(opened) > maxFollowRetry {
			retry = 0
		}
		r.log.Debug("oneshot: log follow ended; following again", "task", out.taskID, "err", err, "in", retry)
		if retry > 0 && !sleep(r.clock, retry, ctx.Done()) {
			return
		}
		retry = min(max(2*retry, 100*time.Millisecond), maxFollowRetry)
	}
}

// followOpenTimeout bounds how long a follow may take to open: one asked
// for while the swarm elects a leader hangs even after it has one
// (measured on 20.10), and one opened again then starts at once.
const followOpenTimeout = 5 * time.Second

// errFollowOpen says a follow did not open within followOpenTimeout.
var errFollowOpen = fmt.Errorf("the log follow did not open within %s", followOpenTimeout)

// followOnce reads one follow of the log of out's task into out, until it
// ends or breaks.
func (r *Runner) followOnce(ctx context.Context, out *taskOutput) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := r.clock.AfterFunc(followOpenTimeout, func() { cancel(errFollowOpen) })
	rc, err := r.api.TaskLogs(ctx, out.taskID, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true})
	if !t.Stop() && err == nil { // opened just as it was cut
		_ = rc.Close()
		err = context.Cause(ctx)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.CopyBuffer(out, onlyReader{rc}, make([]byte, followBufferSize))
	return err
}

// followBufferSize is the follower's read buffer: a follow lasts as long
// as its job, and io.Copy's own 32 KiB would be most of the memory a job
// in flight holds.
const followBufferSize = 4 << 10

// onlyReader hides all but Read, so that io.CopyBuffer uses the buffer
// given.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// stop ends the follower.
func (f *follower) stop() {
	f.cancel()
	<-f.done
}

// readLog reads the whole log of out's task, which has ended, and settles
// out with it (see output.go). A read that fails in a way that may pass is
// made again, after pauses doubling up to maxFollowRetry, resuming where
// the failed one stopped (see readPatience): while no manager can serve
// it, until ctx ends; while the swarm cuts it short, for up to patience.
func (r *Runner) readLog(ctx context.Context, out *taskOutput, patience time.Duration) error {
	read := out.finalRead()
	wait := readPatience{patience: patience}
	var pause time.Duration
	for tries := 1; ; tries++ {
		err := r.readLogOnce(ctx, out.taskID, read)
		if err == nil {
			read.finish()
			return nil
		}
		if ctx.Err() != nil || !wait.again(err, r.clock.Now()) {
			return triedError(err, tries)
		}
		pause = min(max(2*pause, 100*time.Millisecond), maxFollowRetry)
		r.log.Debug("oneshot: log read failed; reading it again", "task", out.taskID, "err", err, "in", pause)
		if !sleep(r.clock, pause, ctx.Done()) {
			return triedError(err, tries)
		}
		read.again()
	}
}

// logReadPatience bounds how long the final read of the task that decided
// a job is made again while the swarm cuts it short: long enough for the
// node that holds the log to come back to a manager elected after the
// last one was lost (measured: a few seconds after the election, on
// 20.10). A read whose node is known lost is not made again.
const logReadPatience = 30 * time.Second

// readPatience says whether a final read that failed is made again.
//   - patience 0: never (the task's node is known lost).
//   - No manager could serve the read (see failsOver: none reachable or
//     answering, its connection broke, or the swarm has no leader: a
//     manager was lost and an election is under way, which took 31 s on a
//     loaded 20.10 swarm): yes, within the read's own timeout, as the
//     job's wait rides out a manager's loss; and the cuts that follow get
//     their patience afresh.
//   - The swarm cut the read short (see cutShort): for up to patience
//     from the first cut.
type readPatience struct {
	patience time.Duration
	cutSince time.Time // the first cut since a manager last served the read
}

func (p *readPatience) again(err error, now time.Time) bool {
	switch {
	case p.patience == 0:
		return false
	case failsOver(err):
		p.cutSince = time.Time{}
		return true
	case !cutShort(err):
		return false
	}
	if p.cutSince.IsZero() {
		p.cutSince = now
	}
	return now.Sub(p.cutSince) < p.patience
}

// readLogOnce reads the whole log of a task into read, once.
func (r *Runner) readLogOnce(ctx context.Context, taskID string, read *finalRead) error {
	rc, err := r.api.TaskLogs(ctx, taskID, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(read, rc); err != nil {
		return err
	}
	if read.split.inEntry() {
		return errLogCut
	}
	return read.resumed()
}

// errLogCut says a log read ended inside an entry.
var errLogCut = errors.New("the log ended inside an entry")

// cutShort reports whether the swarm cut a log read short in a way that
// may pass: it could not reach the node that holds the log for now (a node
// not yet back with a manager elected after a loss: the engine's
// "incomplete log stream"), or the stream ended inside an entry.
func cutShort(err error) bool {
	return strings.Contains(err.Error(), "incomplete log stream") || errors.Is(err, errLogCut)
}

// triedError says how many reads err ended.
func triedError(err error, tries int) error {
	if tries == 1 {
		return err
	}
	return fmt.Errorf("%w (read %d times)", err, tries)
}

// entrySplitter splits a multiplexed, timestamped log stream, written in
// pieces of any size, into its entries, as stdcopy.StdCopy splits frames.
// An entry's text is valid only during the call to to.
type entrySplitter struct {
	to      func(entry)
	header  [8]byte
	got     int // bytes of the header read
	inFrame bool
	kind    byte
	left    int // payload bytes still to come
	payload []byte
	err     error
}

// Frame types of the engine's multiplexed streams; stdin's (0) and
// stdout's (1) are stdout.
const (
	frameStderr    = 2
	frameSystemErr = 3
	// maxFrame bounds a frame: a larger one means the stream is not what
	// it should be.
	maxFrame = 64 << 20
)

func (f *entrySplitter) write(p []byte) {
	for len(p) > 0 && f.err == nil {
		if !f.inFrame {
			k := copy(f.header[f.got:], p)
			f.got, p = f.got+k, p[k:]
			if f.got == len(f.header) {
				f.startFrame()
			}
			continue
		}
		if len(f.payload) == 0 && len(p) >= f.left { // the whole payload is here
			whole := p[:f.left]
			p, f.left = p[f.left:], 0
			f.endFrame(whole)
			continue
		}
		k := min(f.left, len(p))
		f.payload = append(f.payload, p[:k]...)
		f.left, p = f.left-k, p[k:]
		if f.left == 0 {
			f.endFrame(f.payload)
		}
	}
}

// restart readies the splitter for another stream: a frame the last one
// cut short is dropped.
func (f *entrySplitter) restart() {
	f.got, f.inFrame, f.left, f.payload, f.err = 0, false, 0, f.payload[:0], nil
}

// inEntry reports whether the stream stopped inside a frame.
func (f *entrySplitter) inEntry() bool { return f.got > 0 || f.inFrame }

func (f *entrySplitter) startFrame() {
	f.got = 0
	f.kind, f.left = f.header[0], int(binary.BigEndian.Uint32(f.header[4:]))
	if f.kind > frameSystemErr || f.left > maxFrame {
		f.err = fmt.Errorf("unrecognized log stream header %v", f.header)
		return
	}
	f.inFrame, f.payload = true, f.payload[:0]
	if f.left == 0 {
		f.endFrame(nil)
	}
}

// endFrame passes a frame's entry on; the engine's own error ends the read.
func (f *entrySplitter) endFrame(payload []byte) {
	f.inFrame = false
	f.payload = f.payload[:0]
	if f.kind == frameSystemErr {
		f.err = fmt.Errorf("error from daemon in stream: %s", payload)
		return
	}
	stamp, text, ok := bytes.Cut(payload, []byte{' '})
	t, err := time.Parse(time.RFC3339Nano, string(stamp))
	if !ok || err != nil {
		f.err = fmt.Errorf("log entry without a timestamp: %.40q", payload)
		return
	}
	f.to(entry{stderr: f.kind == frameStderr, time: t, text: text})
}
