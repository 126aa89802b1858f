package oneshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"sync"
	"time"
)

// engineLog models a container's log as the Docker engine keeps and
// serves it, from what was measured on Docker 20.10 (see the README and
// ../shared/notes): the unit tests of output.go and the fake engine use it.
//
//   - The log copier logs each line as one entry stamped with the time it
//     read it; a line longer than 16 KiB becomes entries of at most 16 KiB
//     that all share the line's time, none ending in a newline but the
//     last; output that ends without a newline is an entry without one.
//   - Two lines can share a time (journald keeps microseconds; the model's
//     coarse clock makes that common).
//   - json-file rotates its file after max-size and keeps max-file files:
//     the oldest entries go. A read without follow serves what is kept.
//   - A follow serves the entries in order while the container logs them,
//     never ends by itself, and around a rotation it may stall (deliver
//     nothing more), replay (serve a rotated file's entries again, from
//     its start) or skip (jump to a later file, never serving the ones in
//     between): measured with 40 MiB in a burst, the follow served the
//     first file, then jumped 29 MB ahead, then replayed from the start of
//     a later file.
//
// Entries are served as the engine serves them: each a frame with an
// 8-byte header (stream, three zero bytes, big-endian length) and a
// payload made of the time (RFC 3339, nine digits), a space and the text.
type engineLog struct {
	mu      sync.Mutex
	entries []logEntry
	// kept is the index of the first entry still kept (rotation).
	kept int
	// clock stamps entries; tick is how far it moves between two lines
	// (zero: lines share a time until moved on with advance).
	clock time.Time
	tick  time.Duration
	// grew is closed and replaced each time entries are added.
	grew chan struct{}
	// follow, if set, says which entries a follow serves, in order, given
	// how many are logged: a model of a misbehaving follow.
	follow func(logged int) []int
}

// logEntry is one entry of the modelled log.
type logEntry struct {
	stderr bool
	time   time.Time
	text   []byte
}

// maxEntry is where the engine cuts long lines.
const maxEntry = 16 << 10

func newEngineLog(tick time.Duration) *engineLog {
	return &engineLog{clock: logEpoch, tick: tick, grew: make(chan struct{})}
}

// logEpoch is when the model's logs begin.
var logEpoch = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)

// write logs p, written by the job to stdout or stderr, line by line.
func (l *engineLog) write(stderr bool, p []byte) {
	for len(p) > 0 {
		n := bytes.IndexByte(p, '\n') + 1
		if n == 0 {
			n = len(p)
		}
		l.line(stderr, p[:n])
		p = p[n:]
	}
}

// line logs one line (or the end of the output, without a newline) as the
// copier does: pieces of at most maxEntry bytes, all with one time.
func (l *engineLog) line(stderr bool, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clock = l.clock.Add(l.tick)
	for {
		n := min(len(line), maxEntry)
		l.entries = append(l.entries, logEntry{stderr: stderr, time: l.clock, text: bytes.Clone(line[:n])})
		if line = line[n:]; len(line) == 0 {
			break
		}
	}
	close(l.grew)
	l.grew = make(chan struct{})
}

// advance moves the model's clock on (for a clock whose tick is zero).
func (l *engineLog) advance(d time.Duration) {
	l.mu.Lock()
	l.clock = l.clock.Add(d)
	l.mu.Unlock()
}

// rotate drops the entries before the n-th: the log driver rotated them away.
func (l *engineLog) rotate(n int) {
	l.mu.Lock()
	l.kept = max(l.kept, min(n, len(l.entries)))
	l.mu.Unlock()
}

// streams returns what the job wrote to stdout and to stderr.
func (l *engineLog) streams() (stdout, stderr []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		if e.stderr {
			stderr = append(stderr, e.text...)
		} else {
			stdout = append(stdout, e.text...)
		}
	}
	return stdout, stderr
}

// final is what a read without follow serves: every entry kept.
func (l *engineLog) final() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var buf bytes.Buffer
	for _, e := range l.entries[l.kept:] {
		e.frame(&buf)
	}
	return buf.Bytes()
}

// cutRead is how the engine cuts a final read short: after its first
// entries, with the engine's own error (a frame of its own, as the swarm
// sends when it cannot reach the node that holds the log), or inside the
// next entry (a connection lost); or how it refuses the read.
type cutRead struct {
	entries int
	err     string // empty: cut inside an entry
	// refused, if set, is what the request fails with instead, before
	// any stream: no manager could serve it (the swarm has no leader).
	refused error
}

// unreachableNode is the error the swarm's log broker sends in the stream
// while the node that holds the log has not come back to the manager
// (measured on 20.10 while a new leader was being elected).
const unreachableNode = "Error grabbing logs: rpc error: code = Unknown desc = warning: incomplete log stream. " +
	"some logs could not be retrieved for the following reasons: node z292zrohf2c6zloqhg96bvi2d is not available"

// finalCut is a final read that cut cuts short.
func (l *engineLog) finalCut(cut cutRead) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var buf bytes.Buffer
	for _, e := range l.entries[l.kept:][:cut.entries] {
		e.frame(&buf)
	}
	if cut.err == "" {
		var next bytes.Buffer
		l.entries[l.kept+cut.entries].frame(&next)
		buf.Write(next.Bytes()[:next.Len()/2])
		return buf.Bytes()
	}
	header := [8]byte{3}
	binary.BigEndian.PutUint32(header[4:], uint32(len(cut.err)))
	buf.Write(header[:])
	buf.WriteString(cut.err)
	return buf.Bytes()
}

// followed is what a follow serves once n entries are logged: the first
// n, or what the follow model says.
func (l *engineLog) followed(n int) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	order := make([]int, min(n, len(l.entries)))
	for i := range order {
		order[i] = i
	}
	if l.follow != nil {
		order = l.follow(len(order))
	}
	var buf bytes.Buffer
	for _, i := range order {
		l.entries[i].frame(&buf)
	}
	return buf.Bytes()
}

// serveFollow writes a follow's frames to w as entries are logged, until
// ctx is done: a follow never ends by itself.
func (l *engineLog) serveFollow(ctx context.Context, w io.Writer) {
	sent := 0
	for {
		l.mu.Lock()
		grew, logged := l.grew, len(l.entries)
		l.mu.Unlock()
		all := l.followed(logged)
		if len(all) > sent {
			if _, err := w.Write(all[sent:]); err != nil {
				return
			}
			sent = len(all)
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return
		}
	}
}

func (e logEntry) frame(buf *bytes.Buffer) {
	payload := append([]byte(e.time.Format("2006-01-02T15:04:05.000000000Z07:00")+" "), e.text...)
	var header [8]byte
	header[0] = 1
	if e.stderr {
		header[0] = 2
	}
	binary.BigEndian.PutUint32(header[4:], uint32(len(payload)))
	buf.Write(header[:])
	buf.Write(payload)
}

// Follow models, each a func(logged int) []int for engineLog.follow.

// stallAt serves the first n entries, then nothing more.
func stallAt(n int) func(int) []int {
	return func(logged int) []int { return indexes(0, min(n, logged)) }
}

// replayFrom serves entries up to upTo, then again from from on (from <
// upTo): the follow reopened a rotated file from its start.
func replayFrom(upTo, from int) func(int) []int {
	return func(logged int) []int {
		if logged <= upTo {
			return indexes(0, logged)
		}
		return append(indexes(0, upTo), indexes(from, logged)...)
	}
}

// skipTo serves entries up to upTo, then from to on (to > upTo): the
// follow never read the file in between.
func skipTo(upTo, to int) func(int) []int {
	return func(logged int) []int {
		if logged <= upTo {
			return indexes(0, logged)
		}
		return append(indexes(0, upTo), indexes(min(to, logged), logged)...)
	}
}

func indexes(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
