package oneshot

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"
	"time"

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

// logEntry is one entry of a container's log, as the engine keeps it.
type logEntry struct {
	stream stdcopy.StdType
	time   time.Time
	text   []byte
}

// muxStream is a task's log: its entries, in the order the engine wrote
// them, and what each stream holds.
type muxStream struct {
	entries                []logEntry
	wantStdout, wantStderr bytes.Buffer
	clock                  time.Time
}

// logEpoch is when the test logs begin.
var logEpoch = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)

func (s *muxStream) stdout(p []byte) { s.add(stdcopy.Stdout, p) }
func (s *muxStream) stderr(p []byte) { s.add(stdcopy.Stderr, p) }

// add logs p a microsecond after the previous entry.
func (s *muxStream) add(stream stdcopy.StdType, p []byte) {
	if s.clock.IsZero() {
		s.clock = logEpoch
	}
	s.clock = s.clock.Add(time.Microsecond)
	s.addAt(stream, s.clock, p)
}

// addAt logs p with the given time, which the engine may give two entries.
func (s *muxStream) addAt(stream stdcopy.StdType, at time.Time, p []byte) {
	s.entries = append(s.entries, logEntry{stream: stream, time: at, text: append([]byte(nil), p...)})
	if stream == stdcopy.Stderr {
		s.wantStderr.Write(p)
	} else {
		s.wantStdout.Write(p)
	}
}

// served is what the engine sends for a read of the log with timestamps:
// the entries logged since a time (all if it is zero), from the first entry
// it still keeps.
func (s *muxStream) served(since time.Time, kept int) []byte {
	var buf bytes.Buffer
	for _, e := range s.entries[kept:] {
		if !since.IsZero() && e.time.Before(since) {
			continue
		}
		stamped := append([]byte(e.time.Format(time.RFC3339Nano)+" "), e.text...)
		_, _ = muxWriter{&buf, e.stream}.Write(stamped)
	}
	return buf.Bytes()
}

// all is the whole log, as a read from the start serves it.
func (s *muxStream) all() []byte { return s.served(time.Time{}, 0) }

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
			r := out.resume(time.Time{})
			_, err := io.Copy(r, bytes.NewReader(stream.all()))
			require.NoError(t, err)
			require.NoError(t, r.err())
			r.finish()
			wantOut, wantErr := stream.wantStdout.Bytes(), stream.wantStderr.Bytes()
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
	out := newTaskOutput("t1", &JobSpec{Stdout: &liveOut, OutputLimit: 4096})
	out.stderr.keep.limit = 100
	_, err := io.Copy(out, bytes.NewReader(stream.all()))
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
