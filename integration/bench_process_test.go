package integration

import (
	"fmt"
	"os/exec"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Whole processes: oneshot's command line (examples/oneshot) against the
// docker CLI and `docker run`, for a trivial job and for 100 MiB of output.

// trivialRuns is how many times each of the three runs the trivial job.
const trivialRuns = 10

func benchTrivialProcess(b *testing.B, table *benchTable) {
	bin := exampleBinary(b, "../examples/oneshot")
	var tOneshot, tCLI, tRun []time.Duration
	for range trivialRuns {
		tOneshot = append(tOneshot, mustTime(b, func() error { return oneshotTrivialProcess(bin) }))
		tCLI = append(tCLI, mustTime(b, func() error { return cliTrivialJob("") }))
		tRun = append(tRun, mustTime(b, dockerRun))
	}
	removeCLILeftovers()
	what := fmt.Sprintf("one trivial job as a whole process, median of %d, interleaved", trivialRuns)
	o, c, r := medianDuration(tOneshot), medianDuration(tCLI), medianDuration(tRun)
	table.add(
		benchRow{what: what, oneshot: "`oneshot run`: " + secs(o), peer: "CLI job (create, logs, rm): " + secs(c),
			ratio: times(o, c), goal: atMost(o.Seconds()/c.Seconds(), 0.75, "≤0.75x the CLI")},
		benchRow{what: what, oneshot: "`oneshot run`: " + secs(o), peer: "`docker run --rm`: " + secs(r), ratio: times(o, r)},
	)
}

// oneshotTrivialProcess runs the trivial job with oneshot's command line
// and checks what it printed.
func oneshotTrivialProcess(bin string) error {
	out, err := exec.Command(bin, slices.Concat([]string{"run", "--label", benchLabel + "=true", jobkitImage}, trivialJob)...).Output()
	if err == nil && string(out) != "hello\n" {
		err = fmt.Errorf("oneshot run printed %q", out)
	}
	return err
}

// mustTime times fn, which must succeed.
func mustTime(b *testing.B, fn func() error) time.Duration {
	d, err := timed(fn)
	require.NoError(b, err)
	return d
}

// largeOutputRuns is how many times each of the two streams the 100 MiB.
const largeOutputRuns = 2

// linesJob prints 100 MiB of lines of 1 B to 1 MiB on both streams.
var linesJob = []string{"lines", "100", "41"}

// wholeLog keeps a 100 MiB log whole (json-file's default rotates at 10m).
var wholeLog = []string{"--log-driver", "json-file", "--log-opt", "max-size=500m"}

func benchLargeOutput(b *testing.B, table *benchTable) {
	bin := exampleBinary(b, "../examples/oneshot")
	want := linesJobBytes()
	var tOneshot, tCLI []time.Duration
	var rssOneshot, rssCLI int64
	bytesOK := map[string]bool{"oneshot": true, "CLI": true}
	for range largeOutputRuns {
		d, rss, n := streamWithOneshot(b, bin)
		tOneshot, rssOneshot, bytesOK["oneshot"] = append(tOneshot, d), max(rssOneshot, rss), bytesOK["oneshot"] && n == want
		d, rss, n = streamWithCLI(b)
		tCLI, rssCLI, bytesOK["CLI"] = append(tCLI, d), max(rssCLI, rss), bytesOK["CLI"] && n == want
	}
	removeCLILeftovers()
	o, c := medianDuration(tOneshot), medianDuration(tCLI)
	what := fmt.Sprintf("100 MiB of output in lines on both streams, not kept (json-file max-size=500m), median of %d", largeOutputRuns)
	table.add(
		benchRow{what: what + ": wall time", oneshot: "`oneshot run --quiet`: " + secs(o) + wrongBytes(bytesOK["oneshot"]),
			peer:  "CLI job + `service logs`: " + secs(c) + wrongBytes(bytesOK["CLI"]),
			ratio: times(o, c), goal: atMost(o.Seconds()/c.Seconds(), 0.75, "≤0.75x the CLI")},
		benchRow{what: what + ": peak RSS of the process", oneshot: mib(rssOneshot), peer: "largest CLI command: " + mib(rssCLI),
			ratio: fmt.Sprintf("%.2fx", float64(rssOneshot)/float64(rssCLI)), goal: atMost(float64(rssOneshot), 16<<20, "<16 MiB")},
	)
}

// linesJobBytes is how many bytes linesJob writes, on both streams.
func linesJobBytes() int64 {
	stdout, stderr := linesStreams(100, 41)
	return int64(len(stdout) + len(stderr))
}

// wrongBytes notes a run that did not print the bytes the job wrote.
func wrongBytes(ok bool) string {
	if ok {
		return ""
	}
	return " (**printed a wrong number of bytes**)"
}

// streamWithOneshot streams the 100 MiB through oneshot's command line and
// returns how long it took, its peak RSS and the bytes it printed.
func streamWithOneshot(b *testing.B, bin string) (time.Duration, int64, int64) {
	var out byteCounter
	cmd := exec.Command(bin, slices.Concat([]string{"run", "--quiet", "--label", benchLabel + "=true"}, wholeLog, []string{jobkitImage}, linesJob)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	var rss int64
	d := mustTime(b, func() (err error) { rss, err = peakRSS(cmd); return err })
	return d, rss, out.n.Load()
}

// streamWithCLI streams the 100 MiB through the CLI as a swarm job and
// returns how long it took, the largest RSS of its commands and the bytes
// they printed.
func streamWithCLI(b *testing.B) (time.Duration, int64, int64) {
	var out byteCounter
	var rss int64
	d := mustTime(b, func() (err error) {
		rss, err = cliSwarmJob{flags: wholeLog, args: linesJob, logs: &out}.run()
		return err
	})
	return d, rss, out.n.Load()
}

// byteCounter counts what is written to it.
type byteCounter struct{ n atomic.Int64 }

func (c *byteCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}
