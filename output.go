package oneshot

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"sort"
	"time"
)

// A task's output reaches oneshot as its log: a list of entries, each a
// line (or a piece of a long line: the engine cuts lines at 16 KiB into
// entries that share the line's time), with the time the engine logged it.
// logs.go reads the log twice: a follower streams it while the task runs,
// and once the task has ended one final read serves the whole log as the
// engine still has it. This file puts the two reads together, one stream
// at a time, so that the caller's writer and the Result get every byte
// once, in order, and whatever is missing is reported, never passed over.
//
// What the engine does, as measured on Docker 20.10 (see the model in
// enginelog_model_test.go), and how each case is handled:
//   - Entries of one stream come in order, their times never decreasing;
//     several entries can have the same time (a long line's pieces, or two
//     lines logged in one tick). Times order entries, they do not name them.
//   - The follower may stop delivering (a stall after the log rotates),
//     serve entries again (a replay from the start of a rotated file), or
//     skip entries (a rotated file it never read). A replay is recognised
//     when an entry is older than the last one taken, and skipped until the
//     follower is back where it was, each replayed entry checked against
//     the one taken. An entry with the same time and text as one taken at
//     that time may be a replay or the job repeating itself: no telling,
//     so the follower holds that stream and the final read settles it.
//   - The final read serves the whole log, unless the log driver rotated
//     its start away. It is the reference: it is lined up entry by entry
//     with what the follower took (by each entry's digest), the entries the
//     follower did not take are written after it, and the Result is made
//     to match it. Entries the follower skipped are in the Result but came
//     too late for the writer: that is reported, with their size.
//   - When the start of the log was rotated away, what the follower took
//     of it cannot be checked (and may have gaps): that is reported too.

// taskOutput is the output of one task, assembled from its log reads.
type taskOutput struct {
	taskID         string
	stdout, stderr *streamOutput
	follow         entrySplitter
	// start is how the follower's read began: the log's first entry, if
	// it read any, and how many like it came first. startKnown says a
	// read that broke set it: the next reads (refollow) leave it.
	start      run
	startKnown bool
}

// run is how a read of the log starts: a run of identical entries (same
// stream, time and text: the pieces of a long line of one repeated byte,
// say; most often a run of one), then the entry after it, if any.
type run struct {
	first entry // a copy
	d     uint64
	n     int
	ended bool   // an entry came after the run
	next  uint64 // its digest
}

// add counts e, of digest d, in the run if it is one more of it, and
// reports whether it was.
func (r *run) add(e entry, d uint64) bool {
	switch {
	case r.n == 0:
		r.first, r.d, r.n = entry{stderr: e.stderr, time: e.time, text: bytes.Clone(e.text)}, d, 1
	case r.ended:
		return false
	case d == r.d:
		r.n++
	default:
		r.ended, r.next = true, d
		return false
	}
	return true
}

// startsLike reports whether a read that starts with r could have started
// where the follower's read, follow, did: the same first entry, as many
// of it, and the same one after them. A follower stopped inside its run
// saw fewer.
func (r run) startsLike(follow run) bool {
	if r.d != follow.d {
		return false
	}
	if follow.ended {
		return r.n == follow.n && r.ended && r.next == follow.next
	}
	return r.n >= follow.n
}

func newTaskOutput(taskID string, stdout, stderr *sink) *taskOutput {
	o := &taskOutput{taskID: taskID, stdout: newStreamOutput(stdout), stderr: newStreamOutput(stderr)}
	o.follow.to = func(e entry) {
		d := digestOf(e)
		if !o.startKnown {
			o.start.add(e, d)
		}
		o.streamOf(e).followed(e, d)
	}
	return o
}

// refollow readies o for another read of the follower, from the log's
// start, after its last read broke: a frame cut short is dropped, and
// each stream skips, checking them, the entries it took already, as it
// skips those of a replay, until it is back at the last one.
func (o *taskOutput) refollow() {
	o.follow.restart()
	o.startKnown = o.startKnown || o.start.n > 0
	o.stdout.refollow()
	o.stderr.refollow()
}

func (o *taskOutput) streamOf(e entry) *streamOutput {
	if e.stderr {
		return o.stderr
	}
	return o.stdout
}

// Write takes the next bytes of the follower's read.
func (o *taskOutput) Write(p []byte) (int, error) {
	o.follow.write(p)
	return len(p), nil
}

// finalRead returns the writer for the final read of the task's log,
// which must serve the whole log (no since).
func (o *taskOutput) finalRead() *finalRead {
	r := &finalRead{o: o}
	r.split.to = r.entry
	return r
}

// finalRead is the writer of the final read of a task's log. It holds
// back the run of identical entries the log starts with, until it knows
// whether the log still starts where the follower's read did. A read cut
// short is resumed by reading the log again (again): the entries the
// earlier reads passed on are skipped, checked as a whole.
type finalRead struct {
	o       *taskOutput
	split   entrySplitter
	start   run
	decided bool
	// rotated says the engine rotated the start of the log away: the
	// follower read entries that the final read no longer starts with.
	rotated bool
	// passed counts the entries taken so far, chain sums up their
	// digests; a read again skips the first passed entries (skipped of
	// them so far, summed up in skippedChain).
	passed, skipped     int
	chain, skippedChain uint64
	err                 error
}

// errLogChanged says a log read again did not start with what the read
// cut short had served.
var errLogChanged = errors.New("the log read again differs from what the read cut short served")

func (r *finalRead) Write(p []byte) (int, error) {
	r.split.write(p)
	if err := cmp.Or(r.split.err, r.err); err != nil {
		return 0, err
	}
	return len(p), nil
}

// again readies r for another read of the whole log after one was cut
// short.
func (r *finalRead) again() {
	r.split.restart()
	r.skipped, r.skippedChain = 0, 0
}

// resumed reports whether a read again has reached where the last one was
// cut; it fails the read if the log differs.
func (r *finalRead) resumed() error {
	if r.err == nil && r.skipped < r.passed {
		r.err = fmt.Errorf("%w: %d of its first %d entries", errLogChanged, r.skipped, r.passed)
	}
	return r.err
}

// chained adds digest d to a sum of digests in order.
func chained(sum, d uint64) uint64 { return sum*0x100000001b3 ^ d }

func (r *finalRead) entry(e entry) {
	d := digestOf(e)
	if r.err != nil {
		return
	}
	if r.skipped < r.passed {
		r.skipped, r.skippedChain = r.skipped+1, chained(r.skippedChain, d)
		if r.skipped == r.passed && r.skippedChain != r.chain {
			r.err = fmt.Errorf("%w: its first %d entries", errLogChanged, r.passed)
		}
		return
	}
	r.passed, r.chain = r.passed+1, chained(r.chain, d)
	r.skipped, r.skippedChain = r.passed, r.chain
	if !r.decided {
		if r.start.add(e, d) {
			return
		}
		r.decide()
	}
	r.o.streamOf(e).settled(e, d, r.rotated)
}

// decide says whether the log was rotated, and settles the entries held
// back.
func (r *finalRead) decide() {
	r.decided = true
	r.rotated = r.o.start.n > 0 && !r.start.startsLike(r.o.start)
	for range r.start.n {
		r.o.streamOf(r.start.first).settled(r.start.first, r.start.d, r.rotated)
	}
}

// finish ends a final read that went to its end. The two streams share
// one log: when its start was rotated away, both may have lost entries.
func (r *finalRead) finish() {
	if !r.decided {
		r.decide()
	}
	if r.start.n == 0 {
		r.rotated = r.o.start.n > 0 // the engine kept none of the log
	}
	r.o.stdout.finish(r.rotated, r.start.first.time)
	r.o.stderr.finish(r.rotated, r.start.first.time)
}

// gaps returns what each stream lacks, or nil.
func (o *taskOutput) gaps() []outputGap {
	return append(o.stdout.gaps, o.stderr.gaps...)
}

// followMode is how the follower treats the next entry of a stream.
type followMode int

const (
	following followMode = iota // take it if it is new
	replaying                   // the follow went back: skip until where it was
	holding                     // take nothing more: the final read will
)

// position is where an entry is in its stream: its time, and how many
// entries of the stream have that time up to it (1 for the first).
type position struct {
	time time.Time
	nth  int
}

// next is the position of an entry logged at t after the one at p.
func (p position) next(t time.Time) position {
	if p.nth > 0 && t.Equal(p.time) {
		return position{t, p.nth + 1}
	}
	return position{t, 1}
}

// mark is what the follower keeps of each entry it took, to line the
// final read up with it: 24 bytes an entry, however long.
type mark struct {
	digest uint64
	time   int64 // Unix nanoseconds
	size   uint32
}

// streamOutput is one stream (stdout or stderr) of one task.
type streamOutput struct {
	sink *sink
	// taken lists the entries the follower took, in order; last is the
	// position of the last one, mode what to do with the next.
	taken    []mark
	last     position
	mode     followMode
	replayed position // where a replay is
	// The final read: next is the first taken entry it has not met yet,
	// matched the bytes of the taken entries it met; rebuilding says the
	// Result no longer follows the follower but the final read.
	started    bool
	next       int
	matched    int64
	rebuilding bool
	missed     *outputGap // entries the follower skipped, growing
	gaps       []outputGap
}

func newStreamOutput(s *sink) *streamOutput { return &streamOutput{sink: s} }

// followed takes an entry the follower read, whose digest is d.
func (s *streamOutput) followed(e entry, d uint64) {
	switch {
	case s.mode == holding:
	case s.mode == replaying:
		s.skipReplayed(e, d)
	case len(s.taken) == 0 || e.time.After(s.last.time):
		s.take(e, d)
	case e.time.Before(s.last.time):
		s.mode, s.replayed = replaying, position{}
		s.skipReplayed(e, d)
	case s.tookAtLastTime(d):
		s.mode = holding // a replay, or the job repeating itself
	default:
		s.take(e, d) // another entry of the same time: a long line's next piece
	}
}

// refollow makes the stream skip, from the start of the follower's next
// read, what it took already.
func (s *streamOutput) refollow() {
	if s.mode != holding && len(s.taken) > 0 {
		s.mode, s.replayed = replaying, position{}
	}
}

func (s *streamOutput) take(e entry, d uint64) {
	s.last = s.last.next(e.time)
	s.taken = append(s.taken, mark{digest: d, time: e.time.UnixNano(), size: uint32(len(e.text))})
	s.sink.live(e)
	s.sink.keep(e.text)
}

// tookAtLastTime reports whether an entry with digest d was taken at the
// time of the last one taken.
func (s *streamOutput) tookAtLastTime(d uint64) bool {
	for _, m := range s.taken[len(s.taken)-s.last.nth:] {
		if m.digest == d {
			return true
		}
	}
	return false
}

// skipReplayed skips an entry the follower serves again, checking it
// against the one taken at its place, until the replay is back at the
// last entry taken.
func (s *streamOutput) skipReplayed(e entry, d uint64) {
	s.replayed = s.replayed.next(e.time)
	switch r := s.replayed; {
	case r.time.Before(s.last.time):
	case r.time.Equal(s.last.time) && r.nth <= s.last.nth:
		if s.taken[len(s.taken)-s.last.nth+r.nth-1].digest != d {
			s.mode = holding // not a replay of what was taken: let the final read settle it
		} else if r.nth == s.last.nth {
			s.mode = following
		}
	default:
		s.mode = holding // past the last entry taken without meeting it
	}
}

// settled takes an entry of the final read, whose digest is d. The read
// serves the log from its start, or, rotated, from the first entry the
// engine kept.
func (s *streamOutput) settled(e entry, d uint64, rotated bool) {
	if !s.started {
		s.started = true
		if rotated {
			s.lineUp(e.time, d)
		}
	}
	size := int64(len(e.text))
	switch {
	case s.next < len(s.taken) && s.taken[s.next].digest == d: // the follower took it
		s.next++
		s.matched += size
		if s.rebuilding {
			s.sink.keep(e.text)
		}
	case s.next < len(s.taken): // the follower skipped it
		s.rebuild()
		s.sink.keep(e.text)
		s.miss(size)
	default: // the follower never got this far
		s.closeMiss()
		s.sink.live(e)
		s.sink.keep(e.text)
	}
}

// lineUp places the final read's first entry of the stream, logged at t
// with digest d, among the entries taken, once the engine rotated the
// start of the log away: the entries taken before it are no longer in the
// log and cannot be checked, nor can it be told what else was lost before
// t (the follower may have skipped entries, or the first ones).
func (s *streamOutput) lineUp(t time.Time, d uint64) {
	i := sort.Search(len(s.taken), func(i int) bool { return s.taken[i].time >= t.UnixNano() })
	for j := i; j < len(s.taken) && s.taken[j].time == t.UnixNano(); j++ {
		if s.taken[j].digest == d { // the log may start inside a long line
			i = j
			break
		}
	}
	s.uncheckedBefore(i, t)
}

// uncheckedBefore notes that the first n entries taken, and whatever else
// the stream logged before t, cannot be checked: the final read goes on
// from the n-th.
func (s *streamOutput) uncheckedBefore(n int, t time.Time) {
	gap := outputGap{stream: s.sink.name, size: s.bytesTaken(n), unverified: true, before: t}
	if n == len(s.taken) && n > 0 {
		gap.after = time.Unix(0, s.taken[n-1].time).UTC()
	}
	s.gaps = append(s.gaps, gap)
	s.next, s.matched = n, gap.size
}

// rebuild makes the Result follow the final read from where the follower
// left it: it keeps what both had.
func (s *streamOutput) rebuild() {
	if !s.rebuilding {
		s.rebuilding = true
		s.sink.truncate(s.matched)
	}
}

// miss notes that the writer lacks an entry of size bytes.
func (s *streamOutput) miss(size int64) {
	if s.missed == nil {
		s.missed = &outputGap{stream: s.sink.name, offset: s.sink.kept - size, inResult: true}
	}
	s.missed.size += size
}

func (s *streamOutput) closeMiss() {
	if s.missed != nil {
		s.gaps = append(s.gaps, *s.missed)
		s.missed = nil
	}
}

// finish ends the final read. When the engine rotated the start of the
// log away, a stream the read served none of may have lost entries logged
// before first, the read's first. Taken entries the read did not serve
// reached the writer but are not in the job's log.
func (s *streamOutput) finish(rotated bool, first time.Time) {
	s.closeMiss()
	if rotated && !s.started {
		s.uncheckedBefore(sort.Search(len(s.taken), func(i int) bool { return s.taken[i].time >= first.UnixNano() }), first)
	}
	if s.next < len(s.taken) {
		s.rebuild()
		extra := s.bytesTaken(len(s.taken)) - s.bytesTaken(s.next)
		s.gaps = append(s.gaps, outputGap{stream: s.sink.name, offset: s.sink.kept, size: extra, extra: true})
	}
}

// bytesTaken is the size of the first n entries taken.
func (s *streamOutput) bytesTaken(n int) int64 {
	var total int64
	for _, m := range s.taken[:n] {
		total += int64(m.size)
	}
	return total
}

// outputGap is a part of a stream that the writer or the Result lacks, or
// that could not be checked.
type outputGap struct {
	stream string
	// offset is where in the stream it is, size how many bytes (-1: the
	// engine cannot tell); after and before, when set, bound the times of
	// entries that may be lost.
	offset, size  int64
	after, before time.Time
	// inResult: only the writer lacks them. extra: the writer got them
	// although the log does not have them. unverified: taken while the job
	// ran, but gone from the log by its end, so not checked.
	inResult, extra, unverified bool
}

// digestSeed keys the entries' digests, for this process.
var digestSeed = maphash.MakeSeed()

// digestOf identifies an entry by its stream, time and text.
func digestOf(e entry) uint64 {
	var h maphash.Hash
	h.SetSeed(digestSeed)
	var stamp [9]byte
	binary.LittleEndian.PutUint64(stamp[:], uint64(e.time.UnixNano()))
	if e.stderr {
		stamp[8] = 1
	}
	_, _ = h.Write(stamp[:])
	_, _ = h.Write(e.text)
	return h.Sum64()
}

// sink is where one stream of a task goes: the job's live writer, and
// the Result, up to its limit, with the end of it for an ExitError.
type sink struct {
	name string // "stdout" or "stderr"
	w    *liveWriter
	// liveFrom, if set, is when the writer starts getting output.
	liveFrom time.Time
	// kept counts the bytes of the Result's stream, of which buf holds
	// the first limit and tail the last tailSize.
	kept  int64
	limit int
	buf   []byte
	tail  tail
}

func newSink(name string, w *liveWriter, limit int) *sink {
	return &sink{name: name, w: w, limit: limit, tail: tail{size: stderrTailSize}}
}

// live writes e to the job's writer, unless it was logged before
// liveFrom (WithOutputFromNow).
func (s *sink) live(e entry) {
	if !e.time.Before(s.liveFrom) {
		s.w.write(e.text)
	}
}

// keep appends p to the Result's stream.
func (s *sink) keep(p []byte) {
	if room := s.limit - len(s.buf); room > 0 {
		s.buf = append(s.buf, p[:min(room, len(p))]...)
	}
	s.tail.write(p)
	s.kept += int64(len(p))
}

// liveWriter is the caller's writer of one stream of a job, shared by its
// tasks: after an error it gets nothing more.
type liveWriter struct {
	w       io.Writer
	written int64
	err     error
}

func (l *liveWriter) write(p []byte) {
	if l == nil || l.w == nil || l.err != nil || len(p) == 0 {
		return
	}
	n, err := l.w.Write(p)
	l.written += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	l.err = err
}

// truncate cuts the Result's stream back to its first n bytes.
func (s *sink) truncate(n int64) {
	if n >= s.kept {
		return
	}
	s.kept = n
	if n < int64(len(s.buf)) {
		s.buf = s.buf[:n]
	}
	s.tail.buf = s.tail.buf[:0]
	if n == int64(len(s.buf)) { // the end of the stream is still there
		s.tail.write(s.buf[max(0, len(s.buf)-s.tail.size):])
	}
}

// dropped counts the bytes of the stream beyond the limit.
func (s *sink) dropped() int64 { return s.kept - int64(len(s.buf)) }

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
