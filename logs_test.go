package oneshot

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entries collects what an entrySplitter passes on.
type entries []logEntry

func (c *entries) take(e entry) {
	*c = append(*c, logEntry{stderr: e.stderr, time: e.time, text: bytes.Clone(e.text)})
}

func TestEntrySplitterGivesBackEveryEntry(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	l := newEngineLog(time.Microsecond)
	l.write(false, []byte("hello\n"))
	l.write(true, nil)
	l.write(true, []byte{0, 1, 2, 0, 0, 0, 0, 8, ' ', '\n'}) // header-like bytes, a space
	l.write(false, bytes.Repeat([]byte("a"), 40000))         // three entries of one time
	l.write(false, []byte("\n"))
	for range 200 {
		l.write(rng.IntN(3) == 0, randomBytes(rng.IntN(70000), rng.Uint64()))
	}
	l.write(false, []byte("no newline at the end"))
	raw := l.final()
	for _, piece := range []int{1, 3, 8, 9, 40, 1000, 16 << 10, 1 << 20} {
		var got entries
		f := entrySplitter{to: got.take}
		writeInPieces(writerFunc(f.write), raw, piece)
		require.NoError(t, f.err)
		require.False(t, f.inEntry())
		require.Len(t, got, len(l.entries), "pieces of %d", piece)
		for i, e := range l.entries {
			require.Equal(t, e.stderr, got[i].stderr, "entry %d", i)
			require.True(t, e.time.Equal(got[i].time), "entry %d", i)
			require.True(t, bytes.Equal(e.text, got[i].text), "entry %d, pieces of %d", i, piece)
		}
	}
}

func TestEntrySplitterStopsAtTheEnginesError(t *testing.T) {
	l := newEngineLog(time.Microsecond)
	l.write(false, []byte("before\n"))
	raw := append(l.final(), frame(3, "no such task")...)
	var got entries
	f := entrySplitter{to: got.take}
	f.write(raw)
	assert.EqualError(t, f.err, "error from daemon in stream: no such task")
	require.Len(t, got, 1)
	assert.Equal(t, "before\n", string(got[0].text))
}

func TestEntrySplitterRefusesWhatIsNotALog(t *testing.T) {
	cases := map[string][]byte{
		"unknown stream":   {9, 0, 0, 0, 0, 0, 0, 1, 'x'},
		"no timestamp":     frame(1, "just text\n"),
		"not a timestamp":  frame(1, "yesterday text\n"),
		"a frame too long": {1, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff},
	}
	for name, raw := range cases {
		f := entrySplitter{to: func(entry) { t.Errorf("%s: an entry came through", name) }}
		f.write(raw)
		assert.Error(t, f.err, name)
	}
}

func TestEntrySplitterKnowsAStreamCutInsideAnEntry(t *testing.T) {
	l := newEngineLog(time.Microsecond)
	l.write(false, []byte("a line\n"))
	raw := l.final()
	for cut := 1; cut < len(raw); cut++ {
		f := entrySplitter{to: func(entry) {}}
		f.write(raw[:cut])
		assert.True(t, f.inEntry(), "cut at %d", cut)
	}
}

func TestHadContainer(t *testing.T) {
	has := func(state swarm.TaskState, opts ...func(*swarm.Task)) bool {
		tk := task("a", 0, state, opts...)
		return hadContainer(&tk)
	}
	assert.True(t, has("running"))
	assert.True(t, has("starting"))
	assert.True(t, has("complete", exited(0)))
	assert.True(t, has("failed", exited(2)))
	assert.True(t, has("shutdown", exited(143)))
	assert.False(t, has("rejected", withErr("No such image: x")))
	assert.False(t, has("pending"))
	assert.False(t, has("assigned"))
	assert.False(t, hadContainer(nil))
}

// frame is one frame of the engine's multiplexed stream.
func frame(stream byte, payload string) []byte {
	header := []byte{stream, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(header[4:], uint32(len(payload)))
	return append(header, payload...)
}

func writeInPieces(w interface{ Write([]byte) (int, error) }, data []byte, piece int) {
	for i := 0; i < len(data); i += piece {
		_, _ = w.Write(data[i:min(i+piece, len(data))])
	}
}

func randomBytes(n int, seed uint64) []byte {
	p := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)}).Read(p)
	return p
}
