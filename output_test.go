package oneshot

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scenario is one run of a job's output through the engine model: what
// the job printed, how the engine's follow behaved, where the follower
// was stopped when the task ended, and what the log driver rotated away.
type scenario struct {
	name   string
	log    *engineLog
	cut    float64 // the share of the follow's bytes the follower read
	kept   int     // entries rotated away before the final read
	pieces int     // how the reads arrive: pieces of this size
	limit  int     // the Result's limit
}

// outcome is what oneshot made of a scenario.
type outcomeOf struct {
	liveOut, liveErr bytes.Buffer
	out              *taskOutput
	gaps             []outputGap
}

func (sc scenario) run() *outcomeOf {
	var o outcomeOf
	limit := sc.limit
	if limit == 0 {
		limit = 64 << 20
	}
	o.out = newTaskOutput("t1", newSink("stdout", &liveWriter{w: &o.liveOut}, limit), newSink("stderr", &liveWriter{w: &o.liveErr}, limit))
	followed := sc.log.followed(len(sc.log.entries))
	writeInPieces(o.out, followed[:int(sc.cut*float64(len(followed)))], sc.pieces)
	sc.log.rotate(sc.kept)
	read := o.out.finalRead()
	writeInPieces(read, sc.log.final(), sc.pieces+7)
	if read.split.err == nil {
		read.finish()
	}
	o.gaps = o.out.gaps()
	return &o
}

// check holds what oneshot promises, whatever the engine did: the Result
// is the job's output and so is what the writer got, unless a gap says
// exactly what differs; without a misbehaving follow or a rotation there
// is no gap at all.
func (sc scenario) check(t *testing.T) {
	t.Helper()
	o := sc.run()
	wantOut, wantErr := sc.log.streams()
	for _, s := range []struct {
		name       string
		want, live []byte
		stream     *streamOutput
	}{{"stdout", wantOut, o.liveOut.Bytes(), o.out.stdout}, {"stderr", wantErr, o.liveErr.Bytes(), o.out.stderr}} {
		gaps := gapsOf(o.gaps, s.name)
		kept := s.stream.sink.buf
		if sc.undetectable(o) {
			// The README's limits: the follower got nothing before the
			// engine rotated the log, or the log starts with a run of
			// identical entries that the rotation cut into. The Result is
			// the end of the output, as the engine kept it.
			if sc.limit == 0 {
				require.True(t, bytes.HasSuffix(s.want, kept), "%s: %s Result: the end of the output", sc.name, s.name)
			}
			continue
		}
		if sc.limit > 0 {
			s.want = s.want[:min(len(s.want), sc.limit)]
		}
		if !hasGap(gaps, func(g outputGap) bool { return g.unverified || !g.inResult && !g.extra }) {
			require.True(t, bytes.Equal(s.want, kept), "%s: %s Result: %d bytes, want %d; gaps %+v", sc.name, s.name, len(kept), len(s.want), gaps)
		}
		if len(gaps) == 0 {
			require.True(t, bytes.Equal(s.want, s.live[:min(len(s.live), len(s.want))]) && (sc.limit > 0 || len(s.live) == len(s.want)),
				"%s: %s writer: %d bytes, want %d, and no gap reported", sc.name, s.name, len(s.live), len(s.want))
		}
		if late := onlyLate(gaps); late != nil && sc.limit == 0 {
			require.True(t, bytes.Equal(withoutRanges(s.want, late), s.live), "%s: %s writer: what it lacks is what the gaps say", sc.name, s.name)
		}
	}
	if sc.kept == 0 && sc.log.follow == nil {
		require.Empty(t, o.gaps, "%s: a follow that behaves and a whole log leave no gap", sc.name)
	}
}

// undetectable says whether the engine rotated away what no reader can
// know it had: the follower read nothing of the log, or the log starts
// with a run of identical entries (same stream, time and text) that the
// rotation cut into.
func (sc scenario) undetectable(o *outcomeOf) bool {
	if sc.kept == 0 {
		return false
	}
	if o.out.start.n == 0 {
		return true
	}
	e := sc.log.entries
	run := 1
	for run < len(e) && e[run].stderr == e[0].stderr && e[run].time.Equal(e[0].time) && bytes.Equal(e[run].text, e[0].text) {
		run++
	}
	return run > 1 && sc.kept < run
}

func gapsOf(gaps []outputGap, stream string) []outputGap {
	var out []outputGap
	for _, g := range gaps {
		if g.stream == stream {
			out = append(out, g)
		}
	}
	return out
}

func hasGap(gaps []outputGap, is func(outputGap) bool) bool {
	for _, g := range gaps {
		if is(g) {
			return true
		}
	}
	return false
}

// onlyLate returns the gaps if they are all late ones (the writer missed
// bytes the Result has), else nil.
func onlyLate(gaps []outputGap) []outputGap {
	for _, g := range gaps {
		if !g.inResult {
			return nil
		}
	}
	return gaps
}

func withoutRanges(p []byte, gaps []outputGap) []byte {
	var out []byte
	at := int64(0)
	for _, g := range gaps {
		out = append(out, p[at:g.offset]...)
		at = g.offset + g.size
	}
	return append(out, p[at:]...)
}

// Lines a job may print: the sizes around the engine's 16 KiB cut and
// well beyond it, short ones, empty ones.
var lineSizes = []int{0, 1, 7, 80, 200, maxEntry - 1, maxEntry, maxEntry + 1, 40000, 64 << 10, 3 * maxEntry, 200 << 10}

// randomJob prints lines of random sizes on both streams; some repeat
// the line before (same text, and with a coarse clock the same time), the
// last may have no newline.
func randomJob(rng *rand.Rand, l *engineLog, lines int) {
	var last []byte
	for range lines {
		stderr := rng.IntN(3) == 0
		switch {
		case last != nil && rng.IntN(6) == 0:
			l.write(stderr, last)
		default:
			size := lineSizes[rng.IntN(len(lineSizes))]
			if rng.IntN(2) == 0 {
				size = rng.IntN(300)
			}
			line := bytes.Repeat([]byte{byte('a' + rng.IntN(3))}, size) // repetitive: long lines of equal pieces
			if rng.IntN(2) == 0 {
				line = randomBytes(size, rng.Uint64())
				line = bytes.ReplaceAll(line, []byte("\n"), []byte("."))
			}
			last = append(line, '\n')
			l.write(stderr, last)
		}
		if l.tick == 0 && rng.IntN(3) == 0 {
			l.advance(time.Microsecond)
		}
	}
	if rng.IntN(2) == 0 {
		l.write(rng.IntN(2) == 0, []byte("no newline at the end"))
	}
}

// randomScenario makes the seed's scenario.
func randomScenario(seed uint64) scenario {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	tick := time.Microsecond
	if rng.IntN(2) == 0 {
		tick = 0 // a coarse clock: lines share times
	}
	l := newEngineLog(tick)
	randomJob(rng, l, 1+rng.IntN(30))
	n := len(l.entries)
	sc := scenario{log: l, cut: []float64{0, 1, rng.Float64()}[rng.IntN(3)], pieces: 1 + rng.IntN(40000)}
	a, b := rng.IntN(n+1), rng.IntN(n+1)
	switch rng.IntN(6) {
	case 1:
		l.follow = stallAt(a)
	case 2:
		l.follow = replayFrom(max(a, b), min(a, b))
	case 3: // a skip comes after a rotation: after the first entry at least
		l.follow = skipTo(max(1, min(a, b)), max(a, b))
	case 4: // as measured: a skip, then a replay
		hi := max(a, b)
		l.follow = func(logged int) []int {
			order := skipTo(max(1, min(a, b)), hi)(logged)
			if logged > hi {
				order = append(order, indexes(hi, logged)...)
			}
			return order
		}
	}
	if rng.IntN(4) == 0 {
		sc.kept = rng.IntN(n + 1)
	}
	if rng.IntN(5) == 0 {
		sc.limit = 1 + rng.IntN(100000)
	}
	sc.name = fmt.Sprintf("seed %d (%d entries, tick %s, cut %.2f, kept %d, limit %d)", seed, n, tick, sc.cut, sc.kept, sc.limit)
	return sc
}

func TestOutputAgainstTheEngineModel(t *testing.T) {
	for seed := range uint64(400) {
		randomScenario(seed).check(t)
	}
}

func FuzzOutputAgainstTheEngineModel(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { randomScenario(seed).check(t) })
}

func TestOutputOfALongLineOfOneByte(t *testing.T) {
	// sh -c 'head -c 40000 /dev/zero | tr "\0" a; echo; sleep 3; echo end'
	// came back as 16,388 of 40,005 bytes: its three entries share a time,
	// and the first two the same text.
	for _, cut := range []float64{0, 0.3, 0.5, 0.9, 1} {
		l := newEngineLog(time.Second)
		l.write(false, append(bytes.Repeat([]byte("a"), 40000), '\n'))
		l.write(false, []byte("end\n"))
		o := scenario{name: fmt.Sprint("cut ", cut), log: l, cut: cut, pieces: 1000}.run()
		assert.Equal(t, 40005, len(o.out.stdout.sink.buf), "cut %v", cut)
		assert.Equal(t, 40005, o.liveOut.Len(), "cut %v", cut)
		assert.Empty(t, o.gaps)
	}
}

func TestOutputOfAReplayIsNotWrittenTwice(t *testing.T) {
	l := newEngineLog(time.Microsecond)
	for i := range 100 {
		l.write(i%3 == 0, fmt.Appendf(nil, "line %d\n", i))
	}
	l.follow = replayFrom(80, 30)
	o := scenario{name: "replay", log: l, cut: 1, pieces: 333}.run()
	wantOut, wantErr := l.streams()
	assert.Equal(t, string(wantOut), o.liveOut.String())
	assert.Equal(t, string(wantErr), o.liveErr.String())
	assert.Empty(t, o.gaps)
}

func TestOutputAFollowThatSkippedIsReportedToTheByte(t *testing.T) {
	l := newEngineLog(time.Microsecond)
	for i := range 100 {
		l.write(false, fmt.Appendf(nil, "line %02d\n", i)) // 8 bytes each
	}
	l.follow = skipTo(20, 50)
	o := scenario{name: "skip", log: l, cut: 1, pieces: 100}.run()
	want, _ := l.streams()
	assert.Equal(t, string(want), string(o.out.stdout.sink.buf), "the Result is whole")
	require.Len(t, o.gaps, 1)
	assert.Equal(t, outputGap{stream: "stdout", offset: 20 * 8, size: 30 * 8, inResult: true}, o.gaps[0])
	assert.Equal(t, string(want[:160])+string(want[400:]), o.liveOut.String())
}

func TestOutputRotatedAwayBeforeTheEndIsReported(t *testing.T) {
	l := newEngineLog(time.Microsecond)
	for i := range 100 {
		l.write(false, fmt.Appendf(nil, "line %02d\n", i))
	}
	t.Run("the follower read it: it cannot be checked", func(t *testing.T) {
		o := scenario{log: l, cut: 1, kept: 40, pieces: 100}.run()
		want, _ := l.streams()
		assert.Equal(t, string(want), string(o.out.stdout.sink.buf))
		require.Len(t, o.gaps, 2)
		assert.Equal(t, outputGap{stream: "stdout", size: 40 * 8, unverified: true, before: l.entries[40].time}, o.gaps[0])
		assert.Equal(t, outputGap{stream: "stderr", size: 0, unverified: true, before: l.entries[40].time}, o.gaps[1],
			"the other stream may have lost entries with the start of the log too")
	})
	t.Run("the follower stalled before it: lost", func(t *testing.T) {
		l.follow = stallAt(10)
		o := scenario{log: l, cut: 1, kept: 40, pieces: 100}.run()
		want, _ := l.streams()
		assert.Equal(t, string(want[:80])+string(want[320:]), string(o.out.stdout.sink.buf))
		require.Len(t, o.gaps, 2)
		assert.True(t, o.gaps[0].unverified)
		assert.Equal(t, l.entries[9].time, o.gaps[0].after, "lost: what was logged after the last entry read")
		assert.Equal(t, l.entries[40].time, o.gaps[0].before, "and before the first one kept")
	})
}

func TestSinkKeepsTheFirstLimitBytesAndTheTail(t *testing.T) {
	cases := []struct {
		name        string
		limit       int
		writes      []string
		want        string
		wantDropped int64
	}{
		{"under the limit", 10, []string{"abc", "def"}, "abcdef", 0},
		{"exactly the limit", 6, []string{"abc", "def"}, "abcdef", 0},
		{"across the limit", 5, []string{"abc", "defgh", "ij"}, "abcde", 5},
		{"one write over the limit", 3, []string{"abcdefgh"}, "abc", 5},
		{"limit zero keeps nothing", 0, []string{"abc", "de"}, "", 5},
		{"empty writes", 2, []string{"", "a", "", "bc", ""}, "ab", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink("stdout", nil, tc.limit)
			var all string
			for _, w := range tc.writes {
				p := []byte(w)
				s.keep(p)
				copy(p, "xxxxxxxx") // a reader's buffer is reused
				all += w
			}
			assert.Equal(t, tc.want, string(s.buf))
			assert.Equal(t, tc.wantDropped, s.dropped())
			assert.Equal(t, all, string(s.tail.bytes()), "the tail, shorter than its size")
		})
	}
}

func TestSinkTruncate(t *testing.T) {
	s := newSink("stderr", nil, 10)
	s.keep([]byte("0123456789abcdef"))
	s.truncate(12)
	assert.EqualValues(t, 12, s.kept)
	assert.Equal(t, "0123456789", string(s.buf))
	s.truncate(4)
	assert.Equal(t, "0123", string(s.buf))
	assert.Equal(t, "0123", string(s.tail.bytes()), "the tail follows, while the buffer has it")
	s.keep([]byte("xyz"))
	assert.Equal(t, "0123xyz", string(s.buf))
	assert.Equal(t, "0123xyz", string(s.tail.bytes()))
}

func TestTail(t *testing.T) {
	cases := []struct {
		name   string
		size   int
		writes []string
		want   string
	}{
		{"nothing written", 4, nil, ""},
		{"less than the size", 4, []string{"ab"}, "ab"},
		{"several small writes", 4, []string{"ab", "cdef", "g", ""}, "defg"},
		{"one write longer than the size", 4, []string{"ab", "0123456789"}, "6789"},
		{"one write of exactly the size", 4, []string{"ab", "wxyz"}, "wxyz"},
		{"size zero keeps nothing", 0, []string{"abc"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tl := tail{size: tc.size}
			for _, w := range tc.writes {
				tl.write([]byte(w))
			}
			assert.Equal(t, tc.want, string(tl.bytes()))
		})
	}
}

type failingWriter struct{ calls int }

func (f *failingWriter) Write([]byte) (int, error) { f.calls++; return 0, errors.New("broken pipe") }

func TestLiveWriterStopsAtItsFirstError(t *testing.T) {
	broken := &failingWriter{}
	w := &liveWriter{w: broken}
	s := newSink("stdout", w, 100)
	for range 3 {
		s.live(entry{text: []byte("abc")})
		s.keep([]byte("abc"))
	}
	assert.Equal(t, 1, broken.calls, "a broken writer is not written to again")
	assert.EqualError(t, w.err, "broken pipe")
	assert.Equal(t, "abcabcabc", string(s.buf), "and does not lose the Result")
}
