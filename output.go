package oneshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// A task's output reaches oneshot through the engine's logs (see logs.go):
// the live follower reads them while the task runs, then one last read
// gives what the follower had not. Both ask for timestamps: every log entry
// comes as a frame (an 8-byte header naming stdout or stderr and the
// length) whose payload starts with the time the engine logged it. That
// time says where the follower stopped, so the last read asks only for the
// entries since shortly before then (reorderSlack) and oneshot takes each
// entry once, by its time: the caller's writers and the Result get every
// byte once, in order, with the timestamps taken off, however much the
// output repeats itself.
//
// The engine's log driver may have rotated entries away before the last
// read (json-file's max-size and max-file): when the follower's last entry
// is no longer there, the entries between it and the first one kept may be
// lost, and that is reported (ErrOutputIncomplete). What the engine
// discards before the follower reads it, or skips in its own follow when the
// logs rotate faster than it reads, no client can see: an output larger than
// the log driver keeps needs WithLogDriver.

// taskOutput is one task's output as oneshot assembles it.
type taskOutput struct {
	taskID         string
	stdout, stderr *stream
	split          frameSplitter
	// gap says the engine had lost entries logged after the follower's
	// last one before the last read; gapAfter holds how many bytes of
	// stdout and stderr came before it.
	gap      bool
	gapAfter [2]int64
}

func newTaskOutput(taskID string, spec *JobSpec) *taskOutput {
	limit := spec.outputLimit()
	o := &taskOutput{taskID: taskID, stdout: newStream(spec.Stdout, limit), stderr: newStream(spec.Stderr, limit)}
	o.split = frameSplitter{to: o.take}
	return o
}

// Write takes p, a piece of the follower's read: the next bytes of the
// multiplexed, timestamped log stream.
func (o *taskOutput) Write(p []byte) (int, error) {
	o.split.write(p)
	return len(p), nil
}

// take appends a piece of an entry the follower read to its stream.
func (o *taskOutput) take(e entryPiece) {
	o.streamOf(e.kind).takeLive(e)
}

func (o *taskOutput) streamOf(kind byte) *stream {
	if kind == frameStderr {
		return o.stderr
	}
	return o.stdout
}

// reorderSlack bounds how much earlier than an entry of one stream an
// entry of the other may be timestamped and still be logged after it: the
// engine stamps stdout and stderr in two goroutines, then writes each entry
// under a lock.
const reorderSlack = time.Second

// since is where the last read starts: reorderSlack before the follower's
// last entry, after which every entry the follower had not read was logged;
// zero when the follower read none and the read needs all of them.
func (o *taskOutput) since() time.Time {
	var last time.Time
	for _, s := range []*stream{o.stdout, o.stderr} {
		if s.entries > 0 && s.lastTime.After(last) {
			last = s.lastTime
		}
	}
	if last.IsZero() {
		return last
	}
	return last.Add(-reorderSlack)
}

// resume returns the writer for the last read of the task's logs, which
// serves the entries since the given time (all of them if it is zero): it
// takes what o does not have yet. Call finish once the read has ended.
func (o *taskOutput) resume(since time.Time) *resumer {
	r := &resumer{o: o, stdout: o.stdout.resumePoint(since), stderr: o.stderr.resumePoint(since)}
	r.split = frameSplitter{to: r.entry}
	return r
}

// stderrTail is the end of the job's stderr, for ExitError.
func (o *taskOutput) stderrTail() []byte { return o.stderr.last.bytes() }

// incomplete reports a gap in the output, or nil.
func (o *taskOutput) incomplete(job string) error {
	if !o.gap {
		return nil
	}
	return fmt.Errorf("oneshot: job %s: %w: the engine discarded part of its output before oneshot could read it "+
		"(the node's log driver keeps only so much of a container's output, e.g. json-file's max-size and max-file); "+
		"the writers and the Result lack what was logged after the first %d bytes of stdout and %d of stderr and before "+
		"the part the engine kept; keep more with WithLogDriver, e.g. the json-file driver with max-size=100m",
		job, ErrOutputIncomplete, o.gapAfter[0], o.gapAfter[1])
}

// stream is one output stream of a task as assembled so far: every byte
// taken goes to the caller's writer, if any, and to the Result.
type stream struct {
	live io.Writer
	keep capped
	n    int64
	last tail
	// entries counts the log entries taken; lastTime is the time of the
	// last one and lastTaken how many bytes of its text were taken (the
	// follower may stop inside it). One stream's entries are stamped one
	// after the other: two never have the same time.
	entries   int
	lastTime  time.Time
	lastTaken int
	// replay, once the follower served an entry again, skips what the
	// stream has.
	replay *resumePoint
}

func newStream(live io.Writer, limit int) *stream {
	return &stream{live: live, keep: capped{limit: limit}, last: tail{size: stderrTailSize}}
}

// takeLive takes a piece of an entry the follower read. The engine's follow
// sometimes serves again entries it served already (after the log
// rotated): an entry no newer than the last one taken starts a replay, whose
// entries are skipped up to where the stream was.
func (s *stream) takeLive(e entryPiece) {
	if e.first && s.entries > 0 && !e.time.After(s.lastTime) {
		s.replay = s.resumePoint(time.Time{})
	}
	if s.replay != nil {
		s.replay.entry(e)
		return
	}
	s.take(e)
}

// take appends a piece of an entry, noting where the stream is.
func (s *stream) take(e entryPiece) {
	if e.first {
		s.entries++
		s.lastTime, s.lastTaken = e.time, 0
	}
	s.lastTaken += len(e.text)
	s.append(e.text)
}

func (s *stream) append(p []byte) {
	if len(p) == 0 {
		return
	}
	if s.live != nil {
		if _, err := s.live.Write(p); err != nil {
			s.live = nil // a broken writer must not lose the Result
		}
	}
	s.keep.write(p)
	s.last.write(p)
	s.n += int64(len(p))
}

// resumePoint is where a stream's last read goes on from: the entry logged
// at lastTime, skip bytes into it.
type resumePoint struct {
	s        *stream
	followed bool  // the follower took entries of this stream
	due      bool  // and the last of them is due in the read
	taken    int64 // bytes of the stream taken before the read
	lastTime time.Time
	skip     int
	// passed says the read has gone past the follower's last entry, found
	// that this entry was in it; current is what the read's current entry
	// is.
	passed, found bool
	current       entryAge
}

// entryAge says whether the follower had an entry of the last read.
type entryAge int

const (
	oldEntry  entryAge = iota // the follower had all of it
	lastEntry                 // the follower's last entry, maybe in part
	newEntry                  // the follower had none of it
)

func (s *stream) resumePoint(since time.Time) *resumePoint {
	followed := s.entries > 0
	return &resumePoint{s: s, followed: followed, due: followed && !s.lastTime.Before(since), taken: s.n,
		lastTime: s.lastTime, skip: s.lastTaken, current: newEntry}
}

// entry takes what is new of a piece of an entry of the last read.
func (p *resumePoint) entry(e entryPiece) {
	if e.first && p.followed {
		p.current = p.age(e.time)
	}
	switch p.current {
	case newEntry:
		p.s.take(e)
	case lastEntry:
		k := min(p.skip, len(e.text))
		p.skip -= k
		p.s.lastTaken += len(e.text) - k
		p.s.append(e.text[k:])
	}
}

// age places an entry of the read, logged at t, against the follower's
// last one. The engine logs each stream's entries in time order.
func (p *resumePoint) age(t time.Time) entryAge {
	switch {
	case p.passed || t.After(p.lastTime):
		p.passed = true
		return newEntry
	case t.Before(p.lastTime):
		return oldEntry
	}
	p.passed, p.found = true, true
	return lastEntry
}

// resumer is the writer of the last read of a task's logs (see resume).
type resumer struct {
	o              *taskOutput
	split          frameSplitter
	stdout, stderr *resumePoint
}

func (r *resumer) Write(p []byte) (int, error) {
	r.split.write(p)
	return len(p), nil
}

func (r *resumer) entry(e entryPiece) {
	if e.kind == frameStderr {
		r.stderr.entry(e)
	} else {
		r.stdout.entry(e)
	}
}

// err is the error the engine put in the stream, or a stream that was not
// multiplexed.
func (r *resumer) err() error { return r.split.err }

// finish ends a read that went to its end: when the follower's last entry
// of a stream was due in it but missing, the engine had rotated it away,
// and maybe more after it.
func (r *resumer) finish() {
	for _, p := range []*resumePoint{r.stdout, r.stderr} {
		if p.due && !p.found {
			r.o.gap, r.o.gapAfter = true, [2]int64{r.stdout.taken, r.stderr.taken}
		}
	}
}

// entryPiece is a piece of the text of one log entry: the whole of a short
// one, or part of one that came in several pieces.
type entryPiece struct {
	kind  byte
	time  time.Time
	first bool // the entry's first piece
	text  []byte
}

// frameSplitter splits a multiplexed, timestamped log stream, written in
// pieces of any size, into the entries' texts, as stdcopy.StdCopy splits a
// reader's frames.
type frameSplitter struct {
	to     func(entryPiece)
	header [8]byte
	got    int // bytes of the current header read
	left   int // payload bytes of the current frame still to come
	kind   byte
	// stamp collects the frame's timestamp until the space after it; once
	// it is parsed, first says no text of the frame was passed on yet.
	stamp     []byte
	stamped   bool
	time      time.Time
	first     bool
	daemonErr []byte
	err       error
}

// Frame types of the engine's multiplexed streams that oneshot tells
// apart; stdin's (0) and stdout's (1) go to stdout.
const (
	frameStderr    = 2
	frameSystemErr = 3
)

// maxStampLen bounds a timestamp: a payload without a space by then has
// none, and is text.
const maxStampLen = 64

func (f *frameSplitter) write(p []byte) {
	for len(p) > 0 && f.err == nil {
		if f.left == 0 {
			k := copy(f.header[f.got:], p)
			f.got, p = f.got+k, p[k:]
			if f.got == len(f.header) {
				f.startFrame()
			}
			continue
		}
		k := min(f.left, len(p))
		f.payload(p[:k])
		f.left, p = f.left-k, p[k:]
		if f.left == 0 {
			f.endFrame()
		}
	}
}

func (f *frameSplitter) startFrame() {
	f.got = 0
	f.kind, f.left = f.header[0], int(binary.BigEndian.Uint32(f.header[4:]))
	if f.kind > frameSystemErr {
		f.err = fmt.Errorf("unrecognized log stream header %v", f.header)
		return
	}
	f.stamp, f.stamped, f.first, f.daemonErr = f.stamp[:0], false, true, f.daemonErr[:0]
	if f.left == 0 {
		f.endFrame()
	}
}

func (f *frameSplitter) payload(p []byte) {
	if f.kind == frameSystemErr {
		f.daemonErr = append(f.daemonErr, p...)
		return
	}
	if !f.stamped {
		p = f.readStamp(p)
	}
	if f.stamped && len(p) > 0 {
		f.to(entryPiece{kind: f.kind, time: f.time, first: f.first, text: p})
		f.first = false
	}
}

// readStamp collects the timestamp at the start of a frame's payload and
// returns the text after it.
func (f *frameSplitter) readStamp(p []byte) []byte {
	i := bytes.IndexByte(p, ' ')
	if i < 0 {
		f.stamp = append(f.stamp, p...)
		if len(f.stamp) > maxStampLen {
			f.stamped, p = true, f.stamp
		} else {
			p = nil
		}
		return p
	}
	f.stamp = append(f.stamp, p[:i]...)
	t, err := time.Parse(time.RFC3339Nano, string(f.stamp))
	if err != nil { // not a timestamp after all: all of it is text
		f.stamped = true
		return append(append(f.stamp, ' '), p[i+1:]...)
	}
	f.stamped, f.time = true, t
	return p[i+1:]
}

// endFrame ends the current frame: the engine's own error ends the read.
func (f *frameSplitter) endFrame() {
	if f.kind == frameSystemErr {
		f.err = fmt.Errorf("error from daemon in stream: %s", f.daemonErr)
		return
	}
	if !f.stamped && len(f.stamp) > 0 { // a short payload without a timestamp: text
		f.stamped = true
		f.to(entryPiece{kind: f.kind, time: f.time, first: f.first, text: f.stamp})
		f.first = false
	}
	if f.first {
		f.to(entryPiece{kind: f.kind, time: f.time, first: true}) // an empty entry still counts
	}
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
