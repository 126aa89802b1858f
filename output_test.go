package oneshot

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

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

func TestStreamKeepsHeadAndLast(t *testing.T) {
	var live bytes.Buffer
	s := newStream("stdout", &live, 10)
	data := randomBytes(3*resumeWindow, 1)
	for i := 0; i < len(data); i += 1000 {
		n, err := s.Write(data[i:min(i+1000, len(data))])
		require.NoError(t, err)
		assert.Equal(t, min(1000, len(data)-i), n)
	}
	assert.Equal(t, data, live.Bytes())
	assert.Equal(t, data[:10], s.keep.buf)
	assert.EqualValues(t, len(data)-10, s.keep.dropped)
	assert.EqualValues(t, len(data), s.n)
	assert.Equal(t, data[:resumeWindow], s.head)
	assert.Equal(t, data[len(data)-resumeWindow:], s.last.bytes())
}

func TestStreamSurvivesABrokenWriter(t *testing.T) {
	broken := &failingWriter{}
	s := newStream("stdout", broken, 100)
	for _, p := range []string{"x", "y", "z"} {
		n, err := s.Write([]byte(p))
		require.NoError(t, err, "a broken writer does not fail the read")
		assert.Equal(t, 1, n)
	}
	assert.Equal(t, 1, broken.calls, "and is not written to again")
	assert.Equal(t, "xyz", string(s.keep.buf))

	// Through StdCopy: the read goes on to the end of the stream.
	var stream muxStream
	for range 10 {
		stream.stdout([]byte("out\n"))
		stream.stderr([]byte("err\n"))
	}
	brokenOut, brokenErr := &failingWriter{}, &failingWriter{}
	out := &taskOutput{stdout: newStream("stdout", brokenOut, 1<<10), stderr: newStream("stderr", brokenErr, 1<<10)}
	_, err := stdcopy.StdCopy(out.stdout.resume(nil), out.stderr.resume(nil), &stream.buf)
	require.NoError(t, err)
	assert.Equal(t, stream.wantStdout.String(), string(out.stdout.keep.buf))
	assert.Equal(t, stream.wantStderr.String(), string(out.stderr.keep.buf))
	assert.Equal(t, 1, brokenOut.calls)
	assert.Equal(t, 1, brokenErr.calls)
}

func TestMatcher(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		pieces  []string
		piece   int // the piece the match ends in, or -1
		at      int // where in that piece the bytes after the match start
	}{
		{"in one piece", "abc", []string{"xxabcyy"}, 0, 5},
		{"across pieces", "abc", []string{"xxa", "b", "cyy"}, 2, 1},
		{"at the very end", "abc", []string{"xab", "c"}, 1, 1},
		{"first of several", "ab", []string{"abab"}, 0, 2},
		{"after a false start", "aab", []string{"aaab"}, 0, 4},
		{"overlapping prefix", "abab", []string{"ababab"}, 0, 4},
		{"false start across pieces", "abac", []string{"aba", "bac"}, 1, 3},
		{"absent", "abc", []string{"ab", "ba", "cb"}, -1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMatcher([]byte(tc.pattern))
			piece, at := -1, 0
			for i, p := range tc.pieces {
				if j := m.feed([]byte(p)); j >= 0 {
					piece, at = i, j
					break
				}
			}
			assert.Equal(t, tc.piece, piece)
			assert.Equal(t, tc.at, at)
		})
	}
}

func TestMatcherFindsTheWindowInRandomData(t *testing.T) {
	data := randomBytes(1<<20, 2)
	for _, end := range []int{resumeWindow, 5000, 1 << 19, 1 << 20} {
		m := newMatcher(data[end-resumeWindow : end])
		got := -1
		for i := 0; i < len(data); i += 777 {
			if j := m.feed(data[i:min(i+777, len(data))]); j >= 0 {
				got = i + j
				break
			}
		}
		assert.Equal(t, end, got)
	}
}

// TestResume reads a stream's complete logs after a follower read part of
// them. The engine may have rotated the start of the logs away: the read
// then starts later than the follower did.
func TestResume(t *testing.T) {
	const size = 50_000
	data := randomBytes(size, 3)
	cases := []struct {
		name     string
		followed int // bytes the follower got, from the start
		dropped  int // bytes the engine had discarded from the start when read
		wantGap  bool
	}{
		{"no follower", 0, 0, false},
		{"follower got a little", 100, 0, false},
		{"follower got one window", resumeWindow, 0, false},
		{"follower got half", size / 2, 0, false},
		{"follower got it all", size, 0, false},
		{"rotated, the follower's end still there", size / 2, size/2 - resumeWindow, false},
		{"rotated just before the follower's end", size / 2, size / 4, false},
		{"rotated, the follower had it all", size, size - 2*resumeWindow, false},
		{"rotated past the follower's end", size / 2, size/2 + 1, true},
		{"rotated past part of the follower's window", size / 2, size/2 - resumeWindow + 1, true},
		{"rotated, no follower: cannot be told", 0, size / 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var live bytes.Buffer
			s := newStream("stdout", &live, 1<<20)
			writeInPieces(s, data[:tc.followed], 999)
			r := s.resume(nil)
			writeInPieces(r, data[tc.dropped:], 1234)
			r.finish()

			assert.Equal(t, tc.wantGap, s.gap)
			want := data[tc.dropped:] // what the engine still had, when there was no follower
			switch {
			case tc.wantGap:
				want = data[:tc.followed]
			case tc.followed > 0:
				want = data
			}
			assert.True(t, bytes.Equal(want, live.Bytes()), "live: %d bytes, want %d", live.Len(), len(want))
			assert.True(t, bytes.Equal(want, s.keep.buf), "kept: %d bytes, want %d", len(s.keep.buf), len(want))
			assert.EqualValues(t, len(want), s.n)
		})
	}
}

func TestResumeStartsWhereTheFollowerStoppedInsideAFrame(t *testing.T) {
	var full muxStream
	for i := range 300 {
		full.stdout(bytes.Repeat([]byte{'a' + byte(i%26)}, 100+i))
		full.stderr([]byte("progress\n"))
	}
	for _, cut := range []int{0, 8, 1000, full.buf.Len() / 2, full.buf.Len() - 3, full.buf.Len()} {
		var liveOut, liveErr bytes.Buffer
		out := newTaskOutput("t1", &JobSpec{Stdout: &liveOut, Stderr: &liveErr})
		// The follower saw a prefix of the stream, maybe cut inside a frame.
		_, _ = stdcopy.StdCopy(out.stdout, out.stderr, bytes.NewReader(full.buf.Bytes()[:cut]))

		stdout, stderr := out.stdout.resume(nil), out.stderr.resume(&out.stderrEnd)
		_, err := stdcopy.StdCopy(stdout, stderr, bytes.NewReader(full.buf.Bytes()))
		require.NoError(t, err)
		stdout.finish()
		stderr.finish()
		assert.Equal(t, full.wantStdout.String(), liveOut.String(), "stdout, follower cut at %d", cut)
		assert.Equal(t, full.wantStderr.String(), liveErr.String(), "stderr, follower cut at %d", cut)
		assert.Equal(t, full.wantStdout.String(), string(out.stdout.keep.buf))
		assert.Equal(t, full.wantStderr.String(), string(out.stderr.keep.buf))
		assert.NoError(t, out.incomplete("job"))
	}
}

func TestResumeInRepeatingOutputIsReported(t *testing.T) {
	// A banner, then the same line over and over: the engine rotated the
	// banner away, and the follower's last bytes are found all over the
	// read, not only where it stopped.
	data := append([]byte("migrate v42 starting\n"), bytes.Repeat([]byte("waiting for the database...\n"), 2000)...)
	out := newTaskOutput("t1", &JobSpec{})
	writeInPieces(out.stdout, data[:len(data)/2], 100)
	r := out.stdout.resume(nil)
	writeInPieces(r, data[21+28*500:], 100)
	r.finish()
	assert.True(t, out.stdout.ambiguous)
	assert.False(t, out.stdout.gap)
	err := out.incomplete("j")
	require.ErrorIs(t, err, ErrOutputIncomplete)
	assert.Contains(t, err.Error(), "may appear twice")

	unique := newTaskOutput("t1", &JobSpec{})
	data = randomBytes(40_000, 9)
	writeInPieces(unique.stdout, data[:20_000], 100)
	r = unique.stdout.resume(nil)
	writeInPieces(r, data[10_000:], 100)
	r.finish()
	assert.False(t, unique.stdout.ambiguous, "a window found once is where the follower stopped")
	assert.NoError(t, unique.incomplete("j"))
}

func TestIncompleteOutputIsReported(t *testing.T) {
	out := newTaskOutput("t1", &JobSpec{})
	writeInPieces(out.stdout, randomBytes(3*resumeWindow, 4), 100)
	r := out.stdout.resume(nil)
	writeInPieces(r, randomBytes(10*resumeWindow, 5), 100) // nothing of what the follower had
	r.finish()
	err := out.incomplete("oneshot-abc")
	require.ErrorIs(t, err, ErrOutputIncomplete)
	assert.Contains(t, err.Error(), "job oneshot-abc")
	assert.Contains(t, err.Error(), "its stdout")
	assert.Contains(t, err.Error(), "have 12288 bytes of it")
	assert.Contains(t, err.Error(), "WithLogDriver")
}

func TestStderrTailIsTheEndOfTheCompleteRead(t *testing.T) {
	out := newTaskOutput("t1", &JobSpec{})
	writeInPieces(out.stderr, []byte("early\n"), 3)
	assert.Equal(t, "early\n", string(out.stderrTail()), "before the complete read: what the follower had")
	r := out.stderr.resume(&out.stderrEnd)
	writeInPieces(r, []byte("later lines\nthe last words\n"), 5) // rotated: early is gone
	r.finish()
	assert.True(t, out.stderr.gap)
	assert.Equal(t, "later lines\nthe last words\n", string(out.stderrTail()), "the job's real last words")
}

func randomBytes(n int, seed uint64) []byte {
	p := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(seed)}).Read(p)
	return p
}

func writeInPieces(w interface{ Write([]byte) (int, error) }, data []byte, piece int) {
	for i := 0; i < len(data); i += piece {
		_, _ = w.Write(data[i:min(i+piece, len(data))])
	}
}
