package oneshot

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCapped(t *testing.T) {
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
			c := capped{limit: tc.limit}
			for _, w := range tc.writes {
				c.write([]byte(w))
			}
			assert.Equal(t, tc.want, string(c.buf))
			assert.Equal(t, tc.wantDropped, c.dropped)
		})
	}
}

func TestCappedDoesNotKeepTheCallersBuffer(t *testing.T) {
	c := capped{limit: 10}
	p := []byte("abc")
	c.write(p)
	copy(p, "xyz") // a writer's caller may reuse its buffer
	assert.Equal(t, "abc", string(c.buf))
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

func TestTailKeepsTheLastBytesAcrossManyWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bytesRNG := rand.NewChaCha8([32]byte{1})
	for _, size := range []int{1, 7, 50, stderrTailSize} {
		tl := tail{size: size}
		var stream []byte
		p := make([]byte, 3*size+2) // reused, as a writer's caller may
		for range 1000 {
			n := rng.IntN(len(p))
			_, _ = bytesRNG.Read(p[:n])
			stream = append(stream, p[:n]...)
			tl.write(p[:n])
			clear(p)
			require.Equal(t, stream[max(len(stream)-size, 0):], tl.bytes(), "size %d", size)
			if len(stream) > 4*size {
				stream = append(stream[:0], stream[len(stream)-size:]...)
			}
		}
	}
}

type failingWriter struct{ calls int }

func (f *failingWriter) Write([]byte) (int, error) { f.calls++; return 0, errors.New("broken pipe") }

// randomLog is a log of random entries of both streams, some of them empty
// and some logged at the same time as the other stream's entry before.
func randomLog(size int, seed uint64) *muxStream {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	var m muxStream
	for n := 0; n < size; {
		p := randomBytes(rng.IntN(300), seed+uint64(n))
		stream := stdcopy.Stdout
		if rng.IntN(4) == 0 {
			stream = stdcopy.Stderr
		}
		if rng.IntN(10) == 0 && len(m.entries) > 0 && m.entries[len(m.entries)-1].stream != stream {
			m.addAt(stream, m.clock, p) // the other stream's entry may have the same time
		} else {
			m.add(stream, p)
		}
		n += len(p) + 40
	}
	return &m
}

// pieces collects what a frameSplitter passes on.
type pieces struct {
	stdout, stderr bytes.Buffer
	times          []time.Time
}

func (c *pieces) take(e entryPiece) {
	if e.first {
		c.times = append(c.times, e.time)
	}
	if e.kind == frameStderr {
		c.stderr.Write(e.text)
	} else {
		c.stdout.Write(e.text)
	}
}

func TestFrameSplitterTakesTheTimestampsOff(t *testing.T) {
	m := randomLog(200_000, 1)
	m.stdout(nil) // an empty entry
	m.stderr([]byte("last words\n"))
	raw := m.all()
	for _, piece := range []int{1, 3, 8, 9, 40, 1000, 1 << 20} {
		var got pieces
		f := frameSplitter{to: got.take}
		writeInPieces(writerFunc(f.write), raw, piece)
		require.NoError(t, f.err)
		assert.True(t, bytes.Equal(m.wantStdout.Bytes(), got.stdout.Bytes()), "stdout, pieces of %d", piece)
		assert.True(t, bytes.Equal(m.wantStderr.Bytes(), got.stderr.Bytes()), "stderr, pieces of %d", piece)
		require.Len(t, got.times, len(m.entries), "every entry, the empty ones too")
		for i, e := range m.entries {
			require.True(t, e.time.Equal(got.times[i]), "entry %d", i)
		}
	}
}

func TestFrameSplitterPassesTextWithoutATimestampOn(t *testing.T) {
	var buf bytes.Buffer
	_, _ = muxWriter{&buf, stdcopy.Stdout}.Write([]byte("no timestamp here\n"))
	_, _ = muxWriter{&buf, stdcopy.Stdout}.Write(bytes.Repeat([]byte("x"), 100))
	_, _ = muxWriter{&buf, stdcopy.Stdout}.Write([]byte("short\n"))
	var got pieces
	f := frameSplitter{to: got.take}
	writeInPieces(writerFunc(f.write), buf.Bytes(), 3)
	require.NoError(t, f.err)
	assert.Equal(t, "no timestamp here\n"+strings.Repeat("x", 100)+"short\n", got.stdout.String())
}

func TestFrameSplitterStopsAtTheEnginesError(t *testing.T) {
	var m muxStream
	m.stdout([]byte("before\n"))
	raw := m.all()
	raw = append(raw, fakeMuxFrame(stdcopy.Systemerr, "no such task")...)
	var got pieces
	f := frameSplitter{to: got.take}
	f.write(raw)
	assert.EqualError(t, f.err, "error from daemon in stream: no such task")
	assert.Equal(t, "before\n", got.stdout.String())

	bad := frameSplitter{to: got.take}
	bad.write([]byte{9, 0, 0, 0, 0, 0, 0, 1, 'x'})
	assert.ErrorContains(t, bad.err, "unrecognized log stream header")
}

func TestTaskOutputSurvivesABrokenWriter(t *testing.T) {
	m := randomLog(10_000, 2)
	brokenOut, brokenErr := &failingWriter{}, &failingWriter{}
	out := newTaskOutput("t1", &JobSpec{Stdout: brokenOut, Stderr: brokenErr})
	writeInPieces(out, m.all(), 100)
	assert.Equal(t, m.wantStdout.Bytes(), out.stdout.keep.buf, "a broken writer does not lose the Result")
	assert.Equal(t, m.wantStderr.Bytes(), out.stderr.keep.buf)
	assert.Equal(t, 1, brokenOut.calls, "and is not written to again")
	assert.Equal(t, 1, brokenErr.calls)
}

// follow feeds the first cut bytes of the whole log to out, as a follower
// stopped there would, and returns where the last read starts.
func follow(out *taskOutput, m *muxStream, cut int) time.Time {
	writeInPieces(out, m.all()[:cut], 999)
	return out.since()
}

// lastRead serves out the log since a time, from the entry kept on, as the
// engine does, and returns the resumer.
func lastRead(t *testing.T, out *taskOutput, m *muxStream, since time.Time, kept int) *resumer {
	t.Helper()
	r := out.resume(since)
	writeInPieces(r, m.served(since, kept), 1234)
	require.NoError(t, r.err())
	r.finish()
	return r
}

// TestResume stops the follower anywhere, inside entries too, then reads
// the log since a little before its last entry, maybe after the engine
// rotated the first entries away.
func TestResume(t *testing.T) {
	m := randomLog(60_000, 3)
	raw := m.all()
	rng := rand.New(rand.NewPCG(7, 8))
	cuts := []int{0, 1, 8, 40, len(raw) / 3, len(raw) / 2, len(raw) - 1, len(raw)}
	for range 40 {
		cuts = append(cuts, rng.IntN(len(raw)+1))
	}
	for _, cut := range cuts {
		for _, kept := range []int{0, len(m.entries) / 10} {
			var liveOut, liveErr bytes.Buffer
			out := newTaskOutput("t1", &JobSpec{Stdout: &liveOut, Stderr: &liveErr})
			since := follow(out, m, cut)
			if since.IsZero() && kept > 0 {
				continue // without a follower's entry, what the engine rotated away cannot be told
			}
			lastRead(t, out, m, since, kept)
			if out.gap {
				assert.NotZero(t, kept, "cut %d: a gap only when entries were rotated away", cut)
				assert.True(t, bytes.HasPrefix(m.wantStdout.Bytes(), liveOut.Bytes()[:out.gapAfter[0]]), "cut %d: stdout before the gap", cut)
				continue
			}
			require.True(t, bytes.Equal(m.wantStdout.Bytes(), liveOut.Bytes()), "cut %d kept %d: live stdout %d bytes, want %d", cut, kept, liveOut.Len(), m.wantStdout.Len())
			require.True(t, bytes.Equal(m.wantStderr.Bytes(), liveErr.Bytes()), "cut %d kept %d: live stderr", cut, kept)
			require.True(t, bytes.Equal(m.wantStdout.Bytes(), out.stdout.keep.buf), "cut %d: kept stdout", cut)
			require.True(t, bytes.Equal(m.wantStderr.Bytes(), out.stderr.keep.buf), "cut %d: kept stderr", cut)
		}
	}
}

func TestFollowerServingEntriesAgainIsNotDuplicated(t *testing.T) {
	m := randomLog(30_000, 6)
	raw := m.all()
	stop := len(m.entries) * 2 / 3
	for _, replayFrom := range []int{0, len(m.entries) / 3, stop - 1, stop} {
		out := newTaskOutput("t1", &JobSpec{})
		half := len(raw) - len(m.served(time.Time{}, stop)) // at an entry's start, as a replay is
		writeInPieces(out, raw[:half], 500)
		// The engine's follow starts over from an earlier entry, then goes on.
		writeInPieces(out, m.served(time.Time{}, replayFrom), 700)
		assert.True(t, bytes.Equal(m.wantStdout.Bytes(), out.stdout.keep.buf), "replay from %d: stdout %d bytes, want %d", replayFrom, len(out.stdout.keep.buf), m.wantStdout.Len())
		assert.True(t, bytes.Equal(m.wantStderr.Bytes(), out.stderr.keep.buf), "replay from %d: stderr", replayFrom)
	}
}

func TestResumeRepeatingOutputIsExact(t *testing.T) {
	var m muxStream
	for range 2000 {
		m.stdout([]byte("waiting for the database...\n"))
	}
	raw := m.all()
	for _, cut := range []int{100, len(raw) / 2, len(raw) - 5} {
		out := newTaskOutput("t1", &JobSpec{})
		lastRead(t, out, &m, follow(out, &m, cut), 0)
		assert.Equal(t, m.wantStdout.Len(), len(out.stdout.keep.buf), "cut %d", cut)
		assert.False(t, out.gap)
	}
}

func TestResumeTakesAnEntryLoggedLateByTheOtherStream(t *testing.T) {
	// stderr's entry was stamped before stdout's last one but written after
	// it: the follower stopped between the two.
	var m muxStream
	m.add(stdcopy.Stdout, []byte("one\n"))
	m.add(stdcopy.Stdout, []byte("two\n"))
	m.addAt(stdcopy.Stderr, m.clock.Add(-200*time.Millisecond), []byte("stamped earlier\n"))
	m.add(stdcopy.Stdout, []byte("three\n"))
	cut := len(m.served(time.Time{}, 0)) - len(m.served(m.entries[2].time, 2))
	out := newTaskOutput("t1", &JobSpec{})
	lastRead(t, out, &m, follow(out, &m, cut), 0)
	assert.Equal(t, "one\ntwo\nthree\n", string(out.stdout.keep.buf))
	assert.Equal(t, "stamped earlier\n", string(out.stderr.keep.buf))
	assert.False(t, out.gap)
}

func TestResumeAfterRotation(t *testing.T) {
	m := randomLog(50_000, 4)
	raw := m.all()
	cut := len(raw) / 2
	out := newTaskOutput("t1", &JobSpec{})
	since := follow(out, m, cut)
	// The last entry of each stream the follower took some of.
	last := map[stdcopy.StdType]int{}
	for i, e := range m.entries {
		if len(raw)-len(m.served(time.Time{}, i)) < cut {
			last[e.stream] = i
		}
	}
	lastEntry := min(last[stdcopy.Stdout], last[stdcopy.Stderr])

	kept := out
	lastRead(t, kept, m, since, lastEntry) // the follower's last entries are still there
	assert.False(t, kept.gap)
	assert.Equal(t, m.wantStdout.Len()+m.wantStderr.Len(), len(kept.stdout.keep.buf)+len(kept.stderr.keep.buf))

	lost := newTaskOutput("t1", &JobSpec{})
	since = follow(lost, m, cut)
	lastRead(t, lost, m, since, lastEntry+1) // one of them is gone
	require.True(t, lost.gap)
	err := lost.incomplete("oneshot-abc")
	require.ErrorIs(t, err, ErrOutputIncomplete)
	assert.Contains(t, err.Error(), "job oneshot-abc")
	assert.Contains(t, err.Error(), "WithLogDriver")
}

func TestResumeWithoutAFollowerReadsEverything(t *testing.T) {
	m := randomLog(20_000, 5)
	out := newTaskOutput("t1", &JobSpec{})
	since := out.since()
	assert.True(t, since.IsZero(), "no follower: the read needs all entries")
	lastRead(t, out, m, time.Time{}, 0)
	assert.Equal(t, m.wantStdout.Bytes(), out.stdout.keep.buf)
	assert.Equal(t, m.wantStderr.Bytes(), out.stderr.keep.buf)
}

func TestStderrTailIsTheEndOfStderr(t *testing.T) {
	var m muxStream
	m.stderr([]byte("warning\n"))
	m.stdout([]byte("result\n"))
	m.stderr([]byte("fatal: disk full\n"))
	out := newTaskOutput("t1", &JobSpec{})
	lastRead(t, out, &m, follow(out, &m, 20), 0)
	assert.Equal(t, "warning\nfatal: disk full\n", string(out.stderrTail()))
}

func randomBytes(n int, seed uint64) []byte {
	p := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(p)
	return p
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func writeInPieces(w io.Writer, data []byte, piece int) {
	for i := 0; i < len(data); i += piece {
		_, _ = w.Write(data[i:min(i+piece, len(data))])
	}
}
