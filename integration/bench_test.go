package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// BenchmarkOneshot measures oneshot against the goals of its issue and
// against its peers (the docker CLI's swarm job, `docker run --rm`), all in
// one run on one machine, and prints one markdown table at the end, ready
// for the README's "Measured here". Each section is a sub-benchmark, so that
// one can be run alone while developing (-bench 'Oneshot/memory'); each
// sets its own repetitions: run it with -benchtime 1x (`make bench`).
func BenchmarkOneshot(b *testing.B) {
	table := &benchTable{}
	sections := []struct {
		name string
		run  func(*testing.B, *benchTable)
	}{
		{"load", benchManagerLoad},
		{"steady", benchSteadyLocal},
		{"process", benchTrivialProcess},
		{"memory", benchMemory},
		{"output", benchLargeOutput},
		{"detection", benchDetection},
	}
	for _, s := range sections {
		if !b.Run(s.name, func(b *testing.B) { s.run(b, table) }) {
			table.add(benchRow{what: s.name + ": **the section failed** (see its log above)"})
		}
	}
	table.print(os.Stdout, machineHeading(b))
}

// benchLabel marks every job the benchmark runs through oneshot, so that
// what is left of them can be counted.
var benchLabel = "oneshot-bench-" + randomSuffix()

// benchRow is one line of the table: what was measured, oneshot's number,
// the peer's, oneshot's ratio to the peer, the goal and whether it is met.
type benchRow struct {
	what, oneshot, peer, ratio string
	goal                       *benchGoal
}

// benchGoal is what a measure is held to, and whether this run met it.
type benchGoal struct {
	text string
	met  bool
}

// atMost is the goal "value ≤ limit", written as text.
func atMost(value, limit float64, text string) *benchGoal {
	return &benchGoal{text: text, met: value <= limit}
}

// benchTable collects the rows of the sections, in the order they ran.
type benchTable struct {
	mu   sync.Mutex
	rows []benchRow
}

func (t *benchTable) add(rows ...benchRow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows = append(t.rows, rows...)
}

// print writes the heading and the table in markdown, and then the goals
// missed, plainly.
func (t *benchTable) print(w io.Writer, heading string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(w, "\n%s\n\n", heading)
	fmt.Fprintln(w, "| measured | oneshot | peer | oneshot ÷ peer | goal | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	var missed []string
	for _, r := range t.rows {
		goal, verdict := "", ""
		if r.goal != nil {
			goal, verdict = r.goal.text, "yes"
			if !r.goal.met {
				verdict = "**no**"
				missed = append(missed, r.what)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.what, r.oneshot, r.peer, r.ratio, goal, verdict)
	}
	if len(missed) > 0 {
		fmt.Fprintf(w, "\noneshot misses %d goal(s): %s.\n", len(missed), strings.Join(missed, "; "))
	}
	fmt.Fprintln(w)
}

// machineHeading names the date, the machine, the engine and Go.
func machineHeading(b *testing.B) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	engine := "Docker ?"
	if v, err := localDocker(b).ServerVersion(ctx, client.ServerVersionOptions{}); err == nil {
		engine = fmt.Sprintf("Docker %s (API %s)", v.Version, v.APIVersion)
	}
	return fmt.Sprintf("`make bench`, %s: %d cores, %s of memory, %s single-node swarm, Linux %s, %s",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), memTotal(), engine, kernelRelease(), runtime.Version())
}

// memTotal is the machine's memory, from /proc/meminfo.
func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	var kib int64
	for _, line := range strings.Split(string(data), "\n") {
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kib); err == nil {
			return fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
		}
	}
	return "?"
}

// kernelRelease is the running kernel's release.
func kernelRelease() string {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(data))
}

// Formatting of the table's cells.

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func millis(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func times(a, b time.Duration) string { return fmt.Sprintf("%.2fx", a.Seconds()/b.Seconds()) }

func mib(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }

func kib(bytes float64) string { return fmt.Sprintf("%.1f KiB", bytes/(1<<10)) }
