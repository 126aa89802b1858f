package oneshot

import (
	"bytes"
	"encoding/binary"
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
			var liveOut, liveErr bytes.Buffer
			liveOut.Grow(stream.wantStdout.Len())
			out := newTaskOutput("t1", &JobSpec{Stdout: &liveOut, Stderr: &liveErr, OutputLimit: 16 << 20})
			stdout, stderr := out.stdout.resume(nil), out.stderr.resume(&out.stderrEnd)
			written, err := stdcopy.StdCopy(stdout, stderr, &stream.buf)
			require.NoError(t, err)
			stdout.finish()
			stderr.finish()
			wantOut, wantErr := stream.wantStdout.Bytes(), stream.wantStderr.Bytes()
			assert.EqualValues(t, len(wantOut)+len(wantErr), written)
			assert.True(t, bytes.Equal(wantOut, out.stdout.keep.buf), "kept stdout differs (%d bytes, want %d)", len(out.stdout.keep.buf), len(wantOut))
			assert.True(t, bytes.Equal(wantErr, out.stderr.keep.buf), "kept stderr differs (%d bytes, want %d)", len(out.stderr.keep.buf), len(wantErr))
			assert.True(t, bytes.Equal(wantOut, liveOut.Bytes()), "live stdout differs")
			assert.True(t, bytes.Equal(wantErr, liveErr.Bytes()), "live stderr differs")
			assert.True(t, bytes.Equal(wantErr[max(len(wantErr)-stderrTailSize, 0):], out.stderrTail()), "stderr tail differs")
			assert.Zero(t, out.stdout.keep.dropped)
			assert.Zero(t, out.stderr.keep.dropped)
			assert.NoError(t, out.incomplete("job"))
		})
	}
}

func TestMultiplexedLogsBeyondTheOutputLimit(t *testing.T) {
	var stream muxStream
	for range 100 {
		stream.stdout(bytes.Repeat([]byte("o"), 1000))
		stream.stderr(bytes.Repeat([]byte("e"), 10))
	}
	var liveOut bytes.Buffer
	out := &taskOutput{stdout: newStream("stdout", &liveOut, 4096), stderr: newStream("stderr", nil, 100)}
	_, err := stdcopy.StdCopy(out.stdout, out.stderr, &stream.buf)
	require.NoError(t, err)
	assert.Equal(t, stream.wantStdout.Bytes()[:4096], out.stdout.keep.buf, "the beginning is kept")
	assert.EqualValues(t, 100_000-4096, out.stdout.keep.dropped)
	assert.EqualValues(t, 1000-100, out.stderr.keep.dropped)
	assert.Equal(t, stream.wantStdout.Len(), liveOut.Len(), "the writer gets everything, whatever the limit")
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
