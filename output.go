package oneshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// A task's output reaches oneshot in two reads of its logs (see logs.go):
// the live follower while the task runs, and one complete read once it has
// ended. Each stream is assembled from the two so that the caller's writer
// and the Result get every byte once and in order. The complete read
// usually starts where the follower started, and oneshot skips what it
// already has. But the engine's log driver may have rotated the start of a
// large output away by then (json-file's max-size and max-file): the read
// then starts later, and oneshot finds the follower's last bytes in it to go
// on from there. When they are gone too, part of the output is lost, and
// that is reported (ErrOutputIncomplete).
//
// The two reads are lined up by their content, so an output that repeats
// itself where they meet cannot always be: oneshot reports it when it sees
// the repeat (ErrOutputIncomplete), but one that is the same line over and
// over from its first byte looks the same from any line. And what the
// engine discards before oneshot reads anything, or what its own follow
// skips when the logs rotate faster than it reads, no client can see. An
// output larger than the log driver keeps needs WithLogDriver.

// resumeWindow is how many bytes of the start and of the end of a stream
// oneshot remembers to line a later read up with what it already has.
const resumeWindow = 4 << 10

// taskOutput is one task's stdout and stderr as oneshot assembles them.
type taskOutput struct {
	taskID         string
	stdout, stderr *stream
	// stderrEnd holds the last bytes of stderr the complete read served:
	// the end of the job's stderr even when a gap cut the assembled one.
	stderrEnd tail
}

func newTaskOutput(taskID string, spec *JobSpec) *taskOutput {
	limit := spec.outputLimit()
	return &taskOutput{
		taskID:    taskID,
		stdout:    newStream("stdout", spec.Stdout, limit),
		stderr:    newStream("stderr", spec.Stderr, limit),
		stderrEnd: tail{size: stderrTailSize},
	}
}

// stderrTail is the end of the job's stderr, for ExitError.
func (o *taskOutput) stderrTail() []byte {
	if len(o.stderrEnd.bytes()) > 0 {
		return o.stderrEnd.bytes()
	}
	return o.stderr.last.bytes()
}

// incomplete reports the streams the engine lost part of, or nil.
func (o *taskOutput) incomplete(job string) error {
	var errs []error
	for _, s := range []*stream{o.stdout, o.stderr} {
		if s.gap {
			errs = append(errs, fmt.Errorf("oneshot: job %s: %w: the engine discarded part of its %s before oneshot could read it "+
				"(the node's log driver keeps only so much of a container's output, e.g. json-file's max-size and max-file); "+
				"the writer and the Result have %d bytes of it and the job's last words may be missing; "+
				"keep more with WithLogDriver, e.g. the json-file driver with max-size=100m",
				job, ErrOutputIncomplete, s.name, s.n))
		}
		if s.ambiguous {
			errs = append(errs, fmt.Errorf("oneshot: job %s: %w: the engine rotated its %s away while the job ran, and where "+
				"oneshot's two reads of it meet the output repeats itself, so part of it may appear twice; "+
				"keep all of it with WithLogDriver, e.g. the json-file driver with max-size=100m",
				job, ErrOutputIncomplete, s.name))
		}
	}
	return errors.Join(errs...)
}

// stream is one output stream of a task as assembled so far: every byte
// appended goes to the caller's writer, if any, and to the Result.
type stream struct {
	name string
	live io.Writer
	keep capped
	// n counts the bytes appended; head holds the first resumeWindow of
	// them and last the last resumeWindow.
	n    int64
	head []byte
	last tail
	// gap says the engine had discarded some of the stream after byte n
	// before oneshot could read it; ambiguous, that the engine had rotated
	// the stream and it repeats itself where the follower stopped, so that
	// part of it may have been appended twice.
	gap, ambiguous bool
}

func newStream(name string, live io.Writer, limit int) *stream {
	return &stream{name: name, live: live, keep: capped{limit: limit}, last: tail{size: resumeWindow}}
}

// Write appends p: the live follower writes here.
func (s *stream) Write(p []byte) (int, error) {
	s.append(p)
	return len(p), nil
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
	if room := resumeWindow - len(s.head); room > 0 {
		s.head = append(s.head, p[:min(room, len(p))]...)
	}
	s.last.write(p)
	s.n += int64(len(p))
}

// resume returns the writer for a complete read of the stream's logs,
// which appends to s what s does not have yet. Every byte of the read also
// goes to end, if not nil.
func (s *stream) resume(end *tail) *resumer {
	r := &resumer{s: s, end: end, head: s.head, have: s.n}
	if s.n > 0 {
		r.state = aligning
	}
	return r
}

// resumeState is where a resumer is in a complete read.
type resumeState int

const (
	// appending: every byte read is new.
	appending resumeState = iota
	// aligning: the read is compared with the stream's head to learn
	// whether it starts where the stream did.
	aligning
	// skipping: the read starts where the stream did; its first bytes are
	// those the stream has.
	skipping
	// searching: the read starts later; the stream's last bytes are being
	// looked for in it.
	searching
)

// resumer is the writer of a complete read of one stream (see resume).
type resumer struct {
	s     *stream
	end   *tail
	state resumeState
	// head and have are the stream's head and length when the read began;
	// pos counts the bytes read.
	head []byte
	have int64
	pos  int64
	find *matcher
}

func (r *resumer) Write(p []byte) (int, error) {
	if r.end != nil {
		r.end.write(p)
	}
	n := len(p)
	for len(p) > 0 {
		p = r.step(p)
	}
	return n, nil
}

// step consumes p, or the part of it that its state takes, and returns the
// rest.
func (r *resumer) step(p []byte) []byte {
	switch r.state {
	case aligning:
		k := min(len(p), len(r.head)-int(r.pos))
		if !bytes.Equal(p[:k], r.head[r.pos:int(r.pos)+k]) {
			r.startSearch()
			return p
		}
		r.pos += int64(k)
		if int(r.pos) == len(r.head) {
			r.state = skipping
		}
		return p[k:]
	case skipping:
		k := min(int64(len(p)), r.have-r.pos)
		r.pos += k
		if r.pos == r.have {
			r.state = appending
		}
		return p[k:]
	case searching:
		i := r.find.feed(p)
		if i < 0 {
			return nil
		}
		r.state = appending
		r.find.restart()
		return p[i:]
	}
	r.watchForRepeat(p)
	r.s.append(p)
	return nil
}

// watchForRepeat looks for the stream's last bytes again in what follows
// the place where they were found: there, the output repeats itself, and
// oneshot cannot tell which place its follower stopped at.
func (r *resumer) watchForRepeat(p []byte) {
	if r.find != nil && r.find.feed(p) >= 0 {
		r.s.ambiguous = true
		r.find = nil
	}
}

// startSearch switches to looking for the stream's last bytes, from the
// start of the read: the bytes read so far are those of the head.
func (r *resumer) startSearch() {
	r.state = searching
	r.find = newMatcher(r.s.last.bytes())
	seen := r.head[:r.pos]
	if i := r.find.feed(seen); i >= 0 {
		r.state = appending
		r.find.restart()
		r.watchForRepeat(seen[i:])
		r.s.append(seen[i:])
	}
}

// finish ends a read that went to its end: if the stream's last bytes were
// not in it, the engine lost what came after them.
func (r *resumer) finish() {
	if r.state == searching {
		r.s.gap = true
	}
}

// matcher finds a pattern in a stream of bytes written in pieces
// (Knuth-Morris-Pratt).
type matcher struct {
	pattern []byte
	// fallback[i] is the length of the longest proper prefix of
	// pattern[:i+1] that is also its suffix.
	fallback []int
	matched  int
}

func newMatcher(pattern []byte) *matcher {
	m := &matcher{pattern: pattern, fallback: make([]int, len(pattern))}
	for i, k := 1, 0; i < len(pattern); i++ {
		for k > 0 && pattern[i] != pattern[k] {
			k = m.fallback[k-1]
		}
		if pattern[i] == pattern[k] {
			k++
		}
		m.fallback[i] = k
	}
	return m
}

// restart goes on after a match, looking for the next one (which may
// overlap it).
func (m *matcher) restart() {
	if len(m.pattern) > 0 {
		m.matched = m.fallback[len(m.pattern)-1]
	}
}

// feed returns the index in p just after the first complete match of the
// pattern in all that was fed, or -1.
func (m *matcher) feed(p []byte) int {
	if len(m.pattern) == 0 {
		return 0
	}
	for i, c := range p {
		for m.matched > 0 && m.pattern[m.matched] != c {
			m.matched = m.fallback[m.matched-1]
		}
		if m.pattern[m.matched] == c {
			m.matched++
		}
		if m.matched == len(m.pattern) {
			return i + 1
		}
	}
	return -1
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
