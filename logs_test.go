package oneshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// muxWriter frames every Write as one frame of the engine's multiplexed log
// stream, as the daemon's stdcopy.NewStdWriter does (the API module has
// StdCopy only): an 8-byte header (stream, three zero bytes, big-endian
// length), then the bytes.
type muxWriter struct {
	w      io.Writer
	stream stdcopy.StdType
}

func (m muxWriter) Write(p []byte) (int, error) {
	header := [8]byte{0: byte(m.stream)}
	binary.BigEndian.PutUint32(header[4:], uint32(len(p)))
	if _, err := m.w.Write(header[:]); err != nil {
		return 0, err
	}
	return m.w.Write(p)
}

// muxStream builds a multiplexed stream from writes to stdout and stderr in
// the given order, and returns it with what each stream holds.
type muxStream struct {
	buf                    bytes.Buffer
	wantStdout, wantStderr bytes.Buffer
}

func (s *muxStream) stdout(p []byte) {
	_, _ = muxWriter{&s.buf, stdcopy.Stdout}.Write(p)
	s.wantStdout.Write(p)
}

func (s *muxStream) stderr(p []byte) {
	_, _ = muxWriter{&s.buf, stdcopy.Stderr}.Write(p)
	s.wantStderr.Write(p)
}

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

func TestLogSinkSkipsWhatTheFollowerWrote(t *testing.T) {
	cases := []struct {
		name   string
		skip   int64
		writes []string
		live   string
	}{
		{"nothing to skip", 0, []string{"abc", "def"}, "abcdef"},
		{"skip within the first write", 2, []string{"abc", "def"}, "cdef"},
		{"skip exactly the first write", 3, []string{"abc", "def"}, "def"},
		{"skip across writes", 5, []string{"abc", "defg", "hij"}, "fghij"},
		{"skip everything", 10, []string{"abc", "defg", "hij"}, ""},
		{"skip more than there is", 100, []string{"abc", "def"}, ""},
		{"empty writes", 1, []string{"", "ab", "", "c"}, "bc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var live bytes.Buffer
			keep := capped{limit: 100}
			s := logSink{live: &live, skip: tc.skip, keep: &keep}
			var all string
			for _, p := range tc.writes {
				n, err := s.Write([]byte(p))
				require.NoError(t, err)
				assert.Equal(t, len(p), n)
				all += p
			}
			assert.Equal(t, all, string(keep.buf), "the Result keeps everything")
			assert.Equal(t, tc.live, live.String(), "the writer gets only what it did not have")
		})
	}
}

func TestLogSinkWithoutAWriterKeepsEverything(t *testing.T) {
	keep := capped{limit: 4}
	tl := tail{size: 3}
	s := logSink{skip: 2, keep: &keep, tail: &tl}
	for _, p := range []string{"abc", "defg"} {
		n, err := s.Write([]byte(p))
		require.NoError(t, err)
		assert.Equal(t, len(p), n)
	}
	assert.Equal(t, "abcd", string(keep.buf))
	assert.EqualValues(t, 3, keep.dropped)
	assert.Equal(t, "efg", string(tl.bytes()), "the tail sees all of it, whatever the cap")
}

func TestLogSinkSurvivesABrokenWriter(t *testing.T) {
	broken := &failingWriter{}
	keep := capped{limit: 100}
	tl := tail{size: 100}
	s := logSink{live: broken, keep: &keep, tail: &tl}
	for _, p := range []string{"x", "y", "z"} {
		n, err := s.Write([]byte(p))
		require.NoError(t, err, "a broken writer does not fail the read")
		assert.Equal(t, 1, n)
	}
	assert.Equal(t, 1, broken.calls, "and is not written to again")
	assert.Equal(t, "xyz", string(keep.buf))
	assert.Equal(t, "xyz", string(tl.bytes()))

	// Through StdCopy: the read goes on to the end of the stream.
	var stream muxStream
	for range 10 {
		stream.stdout([]byte("out\n"))
		stream.stderr([]byte("err\n"))
	}
	out := output{stdout: capped{limit: 1 << 10}, stderr: capped{limit: 1 << 10}}
	brokenOut, brokenErr := &failingWriter{}, &failingWriter{}
	_, err := stdcopy.StdCopy(&logSink{live: brokenOut, keep: &out.stdout}, &logSink{live: brokenErr, keep: &out.stderr}, &stream.buf)
	require.NoError(t, err)
	assert.Equal(t, stream.wantStdout.String(), string(out.stdout.buf))
	assert.Equal(t, stream.wantStderr.String(), string(out.stderr.buf))
	assert.Equal(t, 1, brokenOut.calls)
	assert.Equal(t, 1, brokenErr.calls)
}

func TestCountingWriter(t *testing.T) {
	var buf bytes.Buffer
	c := countingWriter{w: &buf}
	for _, p := range []string{"abc", "", "defg"} {
		n, err := c.Write([]byte(p))
		require.NoError(t, err)
		assert.Equal(t, len(p), n)
	}
	assert.Equal(t, "abcdefg", buf.String())
	assert.EqualValues(t, 7, c.n)

	discard := countingWriter{}
	_, _ = discard.Write([]byte("abc"))
	assert.EqualValues(t, 3, discard.n, "counts without a writer")

	broken := &failingWriter{}
	b := countingWriter{w: broken}
	for range 3 {
		n, err := b.Write([]byte("ab"))
		require.NoError(t, err)
		assert.Equal(t, 2, n)
	}
	assert.EqualValues(t, 6, b.n)
	assert.Equal(t, 1, broken.calls, "a broken writer is dropped")
}

func TestMultiplexedLogsComeApartByteExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	bytesRNG := rand.NewChaCha8([32]byte{7})
	random := func(n int) []byte {
		p := make([]byte, n)
		_, _ = bytesRNG.Read(p)
		return p
	}
	cases := []struct {
		name  string
		build func(*muxStream)
	}{
		{"empty", func(*muxStream) {}},
		{"stdout only", func(s *muxStream) { s.stdout([]byte("hello\n")) }},
		{"stderr only", func(s *muxStream) { s.stderr([]byte("oops\n")) }},
		{"interleaved lines", func(s *muxStream) {
			for i := range 1000 {
				s.stdout([]byte("line " + string(rune('a'+i%26)) + "\n"))
				if i%3 == 0 {
					s.stderr([]byte("warning\n"))
				}
			}
		}},
		{"binary, no newlines, zero bytes and header-like bytes", func(s *muxStream) {
			s.stdout([]byte{0, 1, 2, 0, 0, 0, 0, 8})
			s.stderr([]byte{2, 0, 0, 0, 0, 0, 0, 1, 0xff})
			s.stdout(random(1000))
		}},
		{"empty frames", func(s *muxStream) {
			s.stdout(nil)
			s.stderr([]byte("a"))
			s.stderr(nil)
			s.stdout([]byte("b"))
		}},
		{"multi-MiB, frames of every size", func(s *muxStream) {
			s.buf.Grow(6 << 20)
			s.wantStdout.Grow(6 << 20)
			for s.wantStdout.Len() < 5<<20 {
				s.stdout(random(rng.IntN(64 << 10)))
				s.stderr(random(rng.IntN(512)))
			}
		}},
		{"one frame larger than StdCopy's buffer", func(s *muxStream) {
			s.stderr([]byte("start\n"))
			s.stdout(random(3 << 20))
			s.stderr(random(1 << 20))
			s.stdout([]byte("end\n"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stream muxStream
			tc.build(&stream)
			out := output{stdout: capped{limit: 16 << 20}, stderr: capped{limit: 16 << 20}, stderrTail: tail{size: stderrTailSize}}
			var liveOut, liveErr bytes.Buffer
			liveOut.Grow(stream.wantStdout.Len())
			written, err := stdcopy.StdCopy(
				&logSink{live: &liveOut, keep: &out.stdout},
				&logSink{live: &liveErr, keep: &out.stderr, tail: &out.stderrTail},
				&stream.buf)
			require.NoError(t, err)
			wantOut, wantErr := stream.wantStdout.Bytes(), stream.wantStderr.Bytes()
			assert.EqualValues(t, len(wantOut)+len(wantErr), written)
			assert.True(t, bytes.Equal(wantOut, out.stdout.buf), "kept stdout differs (%d bytes, want %d)", len(out.stdout.buf), len(wantOut))
			assert.True(t, bytes.Equal(wantErr, out.stderr.buf), "kept stderr differs (%d bytes, want %d)", len(out.stderr.buf), len(wantErr))
			assert.True(t, bytes.Equal(wantOut, liveOut.Bytes()), "live stdout differs")
			assert.True(t, bytes.Equal(wantErr, liveErr.Bytes()), "live stderr differs")
			assert.True(t, bytes.Equal(wantErr[max(len(wantErr)-stderrTailSize, 0):], out.stderrTail.bytes()), "stderr tail differs")
			assert.Zero(t, out.stdout.dropped)
			assert.Zero(t, out.stderr.dropped)
		})
	}
}

func TestMultiplexedLogsBeyondTheOutputLimit(t *testing.T) {
	var stream muxStream
	for range 100 {
		stream.stdout(bytes.Repeat([]byte("o"), 1000))
		stream.stderr(bytes.Repeat([]byte("e"), 10))
	}
	out := output{stdout: capped{limit: 4096}, stderr: capped{limit: 100}}
	var liveOut bytes.Buffer
	_, err := stdcopy.StdCopy(&logSink{live: &liveOut, keep: &out.stdout}, &logSink{keep: &out.stderr}, &stream.buf)
	require.NoError(t, err)
	assert.Equal(t, stream.wantStdout.Bytes()[:4096], out.stdout.buf, "the beginning is kept")
	assert.EqualValues(t, 100_000-4096, out.stdout.dropped)
	assert.EqualValues(t, 1000-100, out.stderr.dropped)
	assert.Equal(t, stream.wantStdout.Len(), liveOut.Len(), "the writer gets everything, whatever the limit")
}

// The follower streams the start of the output live; the complete read at
// the end writes the rest: the writer gets every byte exactly once.
func TestFollowerThenCompleteReadWriteEachByteOnce(t *testing.T) {
	var full muxStream
	for i := range 300 {
		full.stdout(bytes.Repeat([]byte{'a' + byte(i%26)}, 100+i))
		full.stderr([]byte("progress\n"))
	}
	for _, cut := range []int{0, 8, 1000, full.buf.Len() / 2, full.buf.Len() - 3, full.buf.Len()} {
		var liveOut, liveErr bytes.Buffer
		// The follower saw a prefix of the stream, maybe cut inside a frame.
		follower := struct{ stdout, stderr countingWriter }{countingWriter{w: &liveOut}, countingWriter{w: &liveErr}}
		_, _ = stdcopy.StdCopy(&follower.stdout, &follower.stderr, bytes.NewReader(full.buf.Bytes()[:cut]))

		out := output{stdout: capped{limit: 1 << 20}, stderr: capped{limit: 1 << 20}}
		_, err := stdcopy.StdCopy(
			&logSink{live: &liveOut, skip: follower.stdout.n, keep: &out.stdout},
			&logSink{live: &liveErr, skip: follower.stderr.n, keep: &out.stderr},
			bytes.NewReader(full.buf.Bytes()))
		require.NoError(t, err)
		assert.Equal(t, full.wantStdout.String(), liveOut.String(), "stdout, follower cut at %d", cut)
		assert.Equal(t, full.wantStderr.String(), liveErr.String(), "stderr, follower cut at %d", cut)
		assert.Equal(t, full.wantStdout.String(), string(out.stdout.buf))
		assert.Equal(t, full.wantStderr.String(), string(out.stderr.buf))
	}
}

func TestHadContainer(t *testing.T) {
	assert.True(t, hadContainer(task("a", 0, "running")))
	assert.True(t, hadContainer(task("a", 0, "starting")))
	assert.True(t, hadContainer(task("a", 0, "complete", exited(0))))
	assert.True(t, hadContainer(task("a", 0, "failed", exited(2))))
	assert.False(t, hadContainer(task("a", 0, "rejected", withErr("No such image: x"))))
	assert.False(t, hadContainer(task("a", 0, "pending")))
	assert.False(t, hadContainer(task("a", 0, "assigned")))
}
