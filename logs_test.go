package oneshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
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

// cutJob runs a job whose follower takes only its first stdout line, and
// whose final reads the engine cuts short as cuts says; onCut is told of
// each cut once it is served. It returns the job's live stdout and Wait.
func cutJob(t *testing.T, cuts []cutRead, onCut func(c *fakeClock, cut int)) (*lineWriter, waited) {
	t.Helper()
	r, f, c := newFakeRunner(t)
	live := newLineWriter()
	job := startJob(t, context.Background(), r, "job1", WithStdout(live))
	f.log("t1").follow = stallAt(1)
	running(f, job, "t1")
	for i := 1; i <= 6; i++ {
		f.log("t1").write(i%3 == 0, fmt.Appendf(nil, "line %d\n", i))
	}
	awaitLive(t, live, "line 1\n")
	f.mu.Lock()
	f.cutReads = cuts
	f.mu.Unlock()
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	waiting := waitAsync(context.Background(), job)
	for i := range cuts {
		await(t, f.cut, "a final read cut short")
		onCut(c, i)
	}
	return live, await(t, waiting, "Wait")
}

// readPause is the pause before the final read made again after the n-th
// cut (from 0).
func readPause(n int) time.Duration {
	return min(100*time.Millisecond<<n, maxFollowRetry)
}

func TestAFinalReadCutShortIsMadeAgainFromWhereItWasCut(t *testing.T) {
	const stdout, stderr = "line 1\nline 2\nline 4\nline 5\n", "line 3\nline 6\n"
	for _, tc := range []struct {
		name string
		cuts []cutRead
	}{
		{"the node is not back with the manager yet", []cutRead{{entries: 0, err: unreachableNode}, {entries: 0, err: unreachableNode}}},
		{"cut after some entries", []cutRead{{entries: 2, err: unreachableNode}, {entries: 4, err: unreachableNode}}},
		{"cut after some entries, then before them", []cutRead{{entries: 4, err: unreachableNode}, {entries: 1, err: unreachableNode}}},
		{"cut inside an entry", []cutRead{{entries: 1, err: ""}, {entries: 3, err: ""}, {entries: 5, err: ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live, w := cutJob(t, tc.cuts, func(c *fakeClock, cut int) {
				c.awaitTimer(t, readPause(cut), "(*Runner).readLog")
				c.Advance(readPause(cut))
			})
			require.NoError(t, w.err)
			assert.Equal(t, stdout, string(w.res.Stdout))
			assert.Equal(t, stderr, string(w.res.Stderr))
			assert.Equal(t, stdout, live.String(), "every byte once")
		})
	}
}

func TestAFinalReadThatStaysCutSaysSo(t *testing.T) {
	var cuts []cutRead
	var waited time.Duration
	for n := 0; waited < logReadPatience; n++ {
		cuts = append(cuts, cutRead{entries: 2, err: unreachableNode})
		waited += readPause(n)
	}
	cuts = append(cuts, cutRead{entries: 2, err: unreachableNode})
	live, w := cutJob(t, cuts, func(c *fakeClock, cut int) {
		if cut < len(cuts)-1 {
			c.awaitTimer(t, readPause(cut), "(*Runner).readLog")
			c.Advance(readPause(cut))
		}
	})
	var outErr *OutputError
	require.ErrorAs(t, w.err, &outErr)
	assert.Equal(t, OutputLost, outErr.Problem)
	assert.Contains(t, w.err.Error(), "node z292zrohf2c6zloqhg96bvi2d is not available")
	assert.Contains(t, w.err.Error(), fmt.Sprintf("(read %d times)", len(cuts)))
	assert.Equal(t, "line 1\nline 2\n", string(w.res.Stdout), "what was read is kept")
	assert.Equal(t, "line 1\nline 2\n", live.String())
}

func TestAFinalReadWaitsForTheManagersPastItsPatience(t *testing.T) {
	// After a manager's loss the swarm may have no leader for longer than
	// the patience given to cut reads (31 s, seen on a loaded 20.10
	// swarm): the read waits for the managers, and the cuts that follow,
	// until the node that holds the log is back, get their patience afresh.
	cuts := []cutRead{{entries: 2, err: unreachableNode}}
	waited := readPause(0)
	for n := 1; waited <= logReadPatience; n++ {
		cuts = append(cuts, cutRead{refused: errManagerNoLeader})
		waited += readPause(n)
	}
	cuts = append(cuts, cutRead{refused: everyManagerFailed()}, cutRead{entries: 4, err: unreachableNode}, cutRead{entries: 1, err: unreachableNode})
	live, w := cutJob(t, cuts, func(c *fakeClock, cut int) {
		c.awaitTimer(t, readPause(cut), "(*Runner).readLog")
		c.Advance(readPause(cut))
	})
	require.NoError(t, w.err)
	assert.Equal(t, "line 1\nline 2\nline 4\nline 5\n", string(w.res.Stdout))
	assert.Equal(t, "line 3\nline 6\n", string(w.res.Stderr))
	assert.Equal(t, string(w.res.Stdout), live.String(), "every byte once")
}

// everyManagerFailed is what a Runner made WithHosts says when no manager
// could serve a call, as measured after a leader's loss.
func everyManagerFailed() error {
	return fmt.Errorf("every swarm manager failed (3 tried): %w", errors.Join(
		fmt.Errorf("manager tcp://127.0.0.1:1: %w", errManagerNoLeader),
		fmt.Errorf("manager tcp://127.0.0.1:2: %w", errManagerRefused),
		fmt.Errorf("manager tcp://127.0.0.1:3: %w", errManagerNoLeader)))
}

func TestWhichFailedFinalReadsAreMadeAgain(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(0, 0).Add(time.Duration(s) * time.Second) }
	cut := errors.New(unreachableNode)
	type try struct {
		err   error
		at    time.Time
		again bool
	}
	for _, tc := range []struct {
		name     string
		patience time.Duration
		tries    []try
	}{
		{"no patience: never", 0, []try{{errManagerNoLeader, at(0), false}, {cut, at(0), false}}},
		{"the swarm has no leader", logReadPatience, []try{{errManagerNoLeader, at(0), true}, {errManagerNoLeader, at(100), true}}},
		{"no manager reachable", logReadPatience, []try{{errManagerRefused, at(0), true}}},
		{"every manager failed", logReadPatience, []try{{everyManagerFailed(), at(0), true}}},
		{"a connection broken", logReadPatience, []try{{io.ErrUnexpectedEOF, at(0), true}}},
		{"cut inside an entry", logReadPatience, []try{{errLogCut, at(0), true}}},
		{"the answer", logReadPatience, []try{{cerrdefs.ErrNotFound.WithMessage("task t1 not found"), at(0), false}}},
		{"the log changed", logReadPatience, []try{{errLogChanged, at(0), false}}},
		{"cut for the patience", logReadPatience, []try{{cut, at(0), true}, {cut, at(29), true}, {cut, at(30), false}}},
		{"the patience starts again once the managers serve again", logReadPatience,
			[]try{{cut, at(0), true}, {errManagerNoLeader, at(29), true}, {cut, at(40), true}, {cut, at(69), true}, {cut, at(70), false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := readPatience{patience: tc.patience}
			for i, try := range tc.tries {
				assert.Equal(t, try.again, p.again(try.err, try.at), "try %d: %v", i, try.err)
			}
		})
	}
}

func TestAFinalReadMadeAgainChecksTheLogIsTheSame(t *testing.T) {
	l := newEngineLog(time.Microsecond)
	for i := range 4 {
		l.write(false, fmt.Appendf(nil, "line %d\n", i))
	}
	o := newTaskOutput("t1", newSink("stdout", &liveWriter{}, 1<<20), newSink("stderr", &liveWriter{}, 1<<20))
	read := o.finalRead()
	_, err := read.Write(l.finalCut(cutRead{entries: 3, err: ""}))
	require.NoError(t, err)
	read.again()
	other := newEngineLog(time.Microsecond)
	other.write(false, []byte("another log\n"))
	_, err = read.Write(other.final())
	require.NoError(t, err, "too short to tell yet")
	assert.ErrorIs(t, read.resumed(), errLogChanged, "it ended before where the cut one was")

	read = newTaskOutput("t2", newSink("stdout", &liveWriter{}, 1<<20), newSink("stderr", &liveWriter{}, 1<<20)).finalRead()
	_, err = read.Write(l.finalCut(cutRead{entries: 2, err: ""}))
	require.NoError(t, err)
	read.again()
	_, err = read.Write(other.final())
	require.NoError(t, err)
	_, err = read.Write(other.final())
	assert.ErrorIs(t, err, errLogChanged, "its first entries differ")
}

func TestAReadWithoutPatienceIsNotMadeAgain(t *testing.T) {
	// The final read of a task whose node is known lost: the swarm's "not
	// available" is final, and the job's end is not held up by it.
	r, f, _ := newFakeRunner(t)
	f.log("t1").write(false, []byte("line 1\n"))
	f.cutReads = []cutRead{{entries: 0, err: unreachableNode}, {entries: 0, err: unreachableNode}}
	out := newTaskOutput("t1", newSink("stdout", &liveWriter{}, 1<<20), newSink("stderr", &liveWriter{}, 1<<20))
	err := r.readLog(context.Background(), out, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not available")
	assert.NotContains(t, err.Error(), "read 2 times")
	assert.Equal(t, 1, f.callCount("TaskLogs"), "read once")
}
