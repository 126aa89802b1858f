package integration

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/internal/spew"
)

// A job's output, byte for byte, on both streams, in the Result and the
// live writers: long lines that the engine cuts into 16 KiB entries, a
// quiet spell after them, outputs larger than the engine's default log
// keeps.

// linesStreams is what `jobkit lines MIB SEED` prints on stdout and stderr.
func linesStreams(mib, seed int) (stdout, stderr []byte) {
	return spew.Streams(spew.Lines(mib<<20, seed))
}

// longLine is what `jobkit line N` prints: n bytes 'a' to 'z' over and
// over, and a newline.
func longLine(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteByte(byte('a' + i%26))
	}
	b.WriteByte('\n')
	return b.String()
}

// TestOutputLongLineThenQuiet runs a job that prints one 40,000-byte line
// (three entries of the engine's log, cut at 16 KiB, sharing one time),
// keeps quiet for 3 s, then prints a short line: 40,005 bytes, read by the
// follower while the job runs, then settled by the final read.
func TestOutputLongLineThenQuiet(t *testing.T) {
	want := longLine(40000) + "end\n"
	require.Len(t, want, 40005)
	for _, live := range []bool{false, true} {
		t.Run(fmt.Sprintf("live writer %v", live), func(t *testing.T) {
			t.Parallel()
			requireNothingLeft(t)
			var opts []oneshot.Option
			stdout := &liveBuffer{}
			if live {
				opts = append(opts, oneshot.WithStdout(stdout))
			}
			res, err := runJob(t, testContext(t, 2*time.Minute), []string{"line", "40000", "--", "sleep", "3s", "--", "echo", "end"}, opts...)
			require.NoError(t, err)
			assert.True(t, string(res.Stdout) == want, "stdout: %d bytes, want %d", len(res.Stdout), len(want))
			assert.Empty(t, res.Stderr)
			if live {
				got := stdout.String()
				assert.True(t, got == want, "live stdout: %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

// TestOutputLinesOnBothStreams runs a job that prints 8 MiB of lines of 1
// byte to 1 MiB on both streams, each line in one write, through the
// engine's default log driver (json-file, 10m times 3 here: the 11 MB of
// log rotate once while the job writes). The Result gets each stream
// exactly. The writers too, unless the engine's live follow skipped
// entries at the rotation (it does on a busy machine): then err says which
// bytes the writer missed, and nothing else.
func TestOutputLinesOnBothStreams(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	stdout, stderr := &liveBuffer{}, &liveBuffer{}
	res, err := runJob(t, testContext(t, 2*time.Minute), []string{"lines", "8", "31"}, oneshot.WithStdout(stdout), oneshot.WithStderr(stderr))
	require.NotNil(t, res, "%v", err)
	wantOut, wantErr := linesStreams(8, 31)
	requireSameBytes(t, wantOut, res.Stdout, "stdout")
	requireSameBytes(t, wantErr, res.Stderr, "stderr")
	assert.Equal(t, 0, res.ExitCode)
	if err != nil {
		for _, e := range flatten(err) {
			var outErr *oneshot.OutputError
			require.ErrorAs(t, e, &outErr, "only output errors: %v", err)
			assert.Contains(t, []oneshot.OutputProblem{oneshot.OutputLate, oneshot.OutputRepeated}, outErr.Problem,
				"only what the writer missed or got twice; the Result is exact: %v", outErr)
		}
		t.Logf("the engine's follow skipped or repeated entries: %v", err)
		return
	}
	requireSameBytes(t, wantOut, stdout.Bytes(), "live stdout")
	requireSameBytes(t, wantErr, stderr.Bytes(), "live stderr")
}

// flatten returns the errors joined in err, recursively.
func flatten(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		if _, isOutput := err.(*oneshot.OutputError); !isOutput {
			var all []error
			for _, e := range joined.Unwrap() {
				all = append(all, flatten(e)...)
			}
			return all
		}
	}
	return []error{err}
}

// TestOutputHundredMiBOfLinesOnBothStreams runs a job that prints 100 MiB
// of lines of 1 byte to 1 MiB on both streams, its log kept whole by
// json-file with max-size 500m: the Result and the writers get each stream
// exactly, and err is nil. It is not parallel: it keeps both cores busy.
func TestOutputHundredMiBOfLinesOnBothStreams(t *testing.T) {
	requireNothingLeft(t)
	const mib, seed = 100, 41
	wantOut, wantErr := linesStreams(mib, seed)
	stdout, stderr := &bytes.Buffer{}, &bytes.Buffer{}
	start := time.Now()
	res, err := runJob(t, testContext(t, 5*time.Minute), []string{"lines", fmt.Sprint(mib), fmt.Sprint(seed)},
		oneshot.WithLogDriver("json-file", map[string]string{"max-size": "500m"}),
		oneshot.WithOutputLimit(2*mib<<20),
		oneshot.WithStdout(stdout), oneshot.WithStderr(stderr))
	took := time.Since(start)
	require.NoError(t, err)
	requireSameBytes(t, wantOut, res.Stdout, "stdout")
	requireSameBytes(t, wantErr, res.Stderr, "stderr")
	requireSameBytes(t, wantOut, stdout.Bytes(), "live stdout")
	requireSameBytes(t, wantErr, stderr.Bytes(), "live stderr")
	assert.Zero(t, res.StdoutDropped+res.StderrDropped)
	jobTook := res.FinishedAt.Sub(res.CreatedAt)
	t.Logf("%d MiB (stdout %d bytes, stderr %d bytes) in %s: the task lived %s (created to finished), Run took %s more",
		mib, len(wantOut), len(wantErr), took.Round(10*time.Millisecond), jobTook.Round(10*time.Millisecond), (took - jobTook).Round(10*time.Millisecond))
}

// requireSameBytes fails the test if got is not want, saying where they
// part.
func requireSameBytes(t *testing.T, want, got []byte, what string) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	t.Fatalf("%s: %d bytes, want %d; they differ from byte %d on: got %.40q, want %.40q", what, len(got), len(want), i, got[i:], want[i:])
}

func TestStdoutAndStderrKeptApart(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	var liveOut, liveErr bytes.Buffer
	res, err := runJob(t, testContext(t, time.Minute), []string{"mixed", "200", "--", "exit", "7"},
		oneshot.WithStdout(&liveOut), oneshot.WithStderr(&liveErr))
	var exitErr *oneshot.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 7, res.ExitCode)
	var wantOut, wantErr strings.Builder
	for i := 1; i <= 200; i++ {
		if i%2 == 1 {
			fmt.Fprintf(&wantOut, "out %d\n", i)
		} else {
			fmt.Fprintf(&wantErr, "err %d\n", i)
		}
	}
	assert.Equal(t, wantOut.String(), string(res.Stdout))
	assert.Equal(t, wantErr.String(), string(res.Stderr))
	assert.Equal(t, wantOut.String(), liveOut.String(), "live stdout")
	assert.Equal(t, wantErr.String(), liveErr.String(), "live stderr")
	assert.Contains(t, err.Error(), "err 200", "the ExitError names the last stderr line")
}

func TestLargeOutputByteExact(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	const mib = 6
	var live bytes.Buffer
	res, err := runJob(t, testContext(t, 2*time.Minute), []string{"spew", fmt.Sprint(mib), "11"}, oneshot.WithStdout(&live))
	require.NoError(t, err)
	want := spew.Bytes(mib<<20, 11)
	require.Equal(t, len(want), len(res.Stdout))
	assert.True(t, bytes.Equal(want, res.Stdout), "captured stdout differs from what the job wrote")
	assert.True(t, bytes.Equal(want, live.Bytes()), "live stdout differs from what the job wrote")
	assert.Zero(t, res.StdoutDropped)
}

// TestLargeOutputFollowedLiveIsByteExact lets the live follower read all of
// a large output while the job sleeps: the engine's follow serves entries
// again after its log rotates (json-file's 10m on these machines), and
// oneshot must not write them twice.
func TestLargeOutputFollowedLiveIsByteExact(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	const mib = 8
	var live bytes.Buffer
	res, err := runJob(t, testContext(t, 2*time.Minute), []string{"spew", fmt.Sprint(mib), "14", "--", "sleep", "2s", "--", "echo", "done"},
		oneshot.WithStdout(&live))
	require.NoError(t, err)
	want := append(spew.Bytes(mib<<20, 14), "done\n"...)
	assert.True(t, bytes.Equal(want, live.Bytes()), "live stdout: %d bytes, want %d", live.Len(), len(want))
	assert.True(t, bytes.Equal(want, res.Stdout), "captured stdout: %d bytes, want %d", len(res.Stdout), len(want))
}

// TestWithLogDriverKeepsALargeOutput gives the job's container a log driver
// that keeps more than the engine's default may (json-file's 10m times 3
// on these machines): the output is byte-exact.
func TestWithLogDriverKeepsALargeOutput(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	const mib = 24
	res, err := runJob(t, testContext(t, 2*time.Minute), []string{"spew", fmt.Sprint(mib), "13"},
		oneshot.WithOutputLimit(mib<<20), oneshot.WithLogDriver("json-file", map[string]string{"max-size": "200m"}))
	require.NoError(t, err)
	want := spew.Bytes(mib<<20, 13)
	require.Equal(t, len(want), len(res.Stdout))
	assert.True(t, bytes.Equal(want, res.Stdout), "captured stdout differs from what the job wrote")
}

func TestOutputLimitReportsDroppedBytes(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	var live bytes.Buffer
	res, err := runJob(t, testContext(t, time.Minute), []string{"spew", "1", "5"}, oneshot.WithOutputLimit(1000), oneshot.WithStdout(&live))
	require.NoError(t, err)
	want := spew.Bytes(1<<20, 5)
	assert.Equal(t, want[:1000], res.Stdout)
	assert.EqualValues(t, len(want)-1000, res.StdoutDropped)
	assert.Equal(t, want, live.Bytes(), "the writer still gets everything")
}
