package integration

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The command line's jobs of several tasks (--tasks, --parallelism,
// --global, --fail-fast, the task prefix, the table and the JSON of the
// tasks) on the local single-node swarm.

// cliTasksJSON is what `oneshot run --json` prints of a job of several
// tasks, as far as these tests read it.
type cliTasksJSON struct {
	ExitCode       int
	Stdout, Stderr string
	ServiceName    string
	Attempts       int
	Error          string
	CleanupErr     string
	Tasks          []struct {
		Index                               int
		NodeID, NodeName, TaskID, ServiceID string
		State, Stdout, Stderr, Error        string
		ExitCode                            int
		StartedAt, FinishedAt               time.Time
		History                             []struct{ ExitCode int }
	}
}

// cliTaskLines are the lines of the job's output, each prefixed with its
// task's index.
func cliTaskLines(n int, line func(i int) string) []string {
	var lines []string
	for i := range n {
		lines = append(lines, fmt.Sprintf("[%d] %s", i, line(i)))
	}
	return lines
}

// splitLines splits output into its lines, none for no output.
func splitLines(out string) []string {
	if out == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

func TestCLITasks(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	stdout, stderr, code := cliRun(t, "--tasks", "4", "--parallelism", "2", "--progress", jobkitImage, "env", "ONESHOT_TASK_INDEX", "ONESHOT_TASK_COUNT")
	require.Equal(t, 0, code, stderr)
	want := append(cliTaskLines(4, func(i int) string { return fmt.Sprintf("ONESHOT_TASK_INDEX=%d", i) }),
		cliTaskLines(4, func(int) string { return "ONESHOT_TASK_COUNT=4" })...)
	assert.ElementsMatch(t, want, splitLines(stdout), "each task's lines, whole, after its index")

	// With --parallelism 2, task i starts once i-1 tasks have ended: its
	// first progress line comes after i-1 lines that say a task completed.
	progress := regexp.MustCompile(`^oneshot: \[(\d)\] task \w{12} (\w+)`)
	completed, seen := 0, map[string]bool{}
	for _, line := range splitLines(stderr) {
		m := progress.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if !seen[m[1]] {
			seen[m[1]] = true
			index := int(m[1][0] - '0')
			assert.GreaterOrEqual(t, completed, index-1, "task %s started with %d tasks completed: more than 2 at once\n%s", m[1], completed, stderr)
		}
		if m[2] == "complete" {
			completed++
		}
	}
	assert.Len(t, seen, 4, "progress lines of each task:\n%s", stderr)
	assert.Regexp(t, `(?m)^oneshot: job oneshot-\w+: 4 tasks after \d+\.\d\ds: 4 succeeded; services removed$`, stderr)
	assert.Regexp(t, `(?m)^  TASK +NODE +STATE +EXIT +TIME +ATTEMPTS$`, stderr)
	for i := range 4 {
		assert.Regexp(t, fmt.Sprintf(`(?m)^  %d +\S+ +complete +0 +\d+\.\d\ds +1$`, i), stderr)
	}
}

// TestCLITasksOneAtATime runs 3 tasks with --parallelism 1: each starts once
// the one before has ended, in order.
func TestCLITasksOneAtATime(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	stdout, stderr, code := cliRun(t, "--tasks", "3", "--parallelism", "1", jobkitImage, "env", "ONESHOT_TASK_INDEX")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "[0] ONESHOT_TASK_INDEX=0\n[1] ONESHOT_TASK_INDEX=1\n[2] ONESHOT_TASK_INDEX=2\n", stdout, "one at a time: in order")
	assert.Empty(t, stderr)
}

func TestCLITasksJSON(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	stdout, stderr, code := cliRun(t, "--json", "--tasks", "4", "--parallelism", "2", jobkitImage, "env", "ONESHOT_TASK_INDEX")
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr, "all succeeded, off a terminal: no table")
	var res cliTasksJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	assert.Equal(t, 0, res.ExitCode)
	assert.Empty(t, res.Stdout+res.Stderr+res.Error, "each task has its own output")
	assert.Equal(t, 4, res.Attempts)
	require.Len(t, res.Tasks, 4)
	services := map[string]bool{}
	for i, task := range res.Tasks {
		assert.Equal(t, i, task.Index)
		assert.Equal(t, fmt.Sprintf("ONESHOT_TASK_INDEX=%d\n", i), task.Stdout, "the task's own output, without the prefix")
		assert.Equal(t, "complete", task.State)
		assert.Equal(t, 0, task.ExitCode)
		assert.NotEmpty(t, task.NodeID)
		assert.NotEmpty(t, task.NodeName)
		assert.NotEmpty(t, task.TaskID)
		assert.False(t, task.FinishedAt.Before(task.StartedAt))
		require.Len(t, task.History, 1)
		assert.Equal(t, 0, task.History[0].ExitCode)
		services[task.ServiceID] = true
	}
	assert.Len(t, services, 4, "a service per task")
	assert.Empty(t, res.CleanupErr, "every task's service removed")
}

func TestCLITasksExitCode(t *testing.T) {
	t.Parallel()
	t.Run("every task fails", func(t *testing.T) {
		t.Parallel()
		requireNothingLeft(t)
		stdout, stderr, code := cliRun(t, "--tasks", "3", jobkitImage, "env", "ONESHOT_TASK_INDEX", "--", "stderr", "oops", "--", "exit", "3")
		assert.Equal(t, 3, code, stderr)
		assert.ElementsMatch(t, cliTaskLines(3, func(i int) string { return fmt.Sprintf("ONESHOT_TASK_INDEX=%d", i) }), splitLines(stdout))
		assert.Regexp(t, `(?m)^oneshot: job oneshot-\w+: 3 tasks after \d+\.\d\ds: 0 succeeded, 3 failed; services removed$`, stderr,
			"the table, a task having failed")
		for i := range 3 {
			assert.Regexp(t, fmt.Sprintf(`(?m)^\[%d\] oops$`, i), stderr)
			assert.Regexp(t, fmt.Sprintf(`(?m)^  %d +\S+ +failed +3 +\d+\.\d\ds +1 +oops$`, i), stderr)
		}
	})
	// hrefcounter, the crawl's job, counts the URL at its task's index:
	// nothing listens on 127.0.0.1:1 in its container (exit 2), and "nope"
	// is not a URL (exit 64). The first task that failed, by index, gives
	// the code.
	for _, tc := range []struct {
		name  string
		urls  []string
		codes []int
	}{
		{"refused first", []string{"http://127.0.0.1:1/", "nope"}, []int{2, 64}},
		{"bad URL first", []string{"nope", "http://127.0.0.1:1/"}, []int{64, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireNothingLeft(t)
			args := append([]string{"--json", "--tasks", "2", "oneshot-hrefcounter:dev"}, tc.urls...)
			stdout, stderr, code := cliRun(t, args...)
			assert.Equal(t, tc.codes[0], code, stderr)
			var res cliTasksJSON
			require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
			assert.Equal(t, tc.codes[0], res.ExitCode)
			require.Len(t, res.Tasks, 2)
			for i, task := range res.Tasks {
				assert.Equal(t, tc.codes[i], task.ExitCode, "task %d", i)
				assert.Equal(t, "failed", task.State, "task %d", i)
				assert.Contains(t, task.Error, fmt.Sprintf("-%d exited with code %d", i, tc.codes[i]))
			}
			refused := 0
			if tc.codes[0] != 2 {
				refused = 1
			}
			assert.Contains(t, res.Tasks[refused].Stderr, "connection refused")
			assert.Contains(t, res.Tasks[1-refused].Stderr, `"nope" is not an http(s) URL`)
			assert.Contains(t, res.Error, "2 of 2 tasks did not succeed")
			assert.Empty(t, res.CleanupErr, "every task's service removed")
		})
	}
	t.Run("fail fast", func(t *testing.T) {
		t.Parallel()
		requireNothingLeft(t)
		// One at a time: the first fails, and the others never start.
		stdout, stderr, code := cliRun(t, "--tasks", "3", "--parallelism", "1", "--fail-fast", jobkitImage, "exit", "5")
		assert.Equal(t, 5, code, stderr)
		assert.Empty(t, stdout)
		assert.Regexp(t, `(?m)^oneshot: job oneshot-\w+: 3 tasks after \d+\.\d\ds: 0 succeeded, 1 failed, 2 not started; services removed$`, stderr)
		assert.Regexp(t, `(?m)^  0 +\S+ +failed +5 +`, stderr)
		assert.Regexp(t, `(?m)^  1 +- +not started +- +- +0 +stopped by --fail-fast: task 0 failed$`, stderr)
		assert.Regexp(t, `(?m)^  2 +- +not started +- +- +0 +stopped by --fail-fast: task 0 failed$`, stderr)
	})
}

func TestCLIGlobal(t *testing.T) {
	t.Parallel()
	t.Run("output", func(t *testing.T) {
		t.Parallel()
		requireNothingLeft(t)
		stdout, stderr, code := cliRun(t, "--global", jobkitImage, "env", "ONESHOT_TASK_INDEX", "ONESHOT_TASK_COUNT")
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, "[0] ONESHOT_TASK_INDEX=0\n[0] ONESHOT_TASK_COUNT=1\n", stdout, "one task on the one node, prefixed")
		assert.Empty(t, stderr)
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		requireNothingLeft(t)
		stdout, stderr, code := cliRun(t, "--global", "--json", jobkitImage, "env", "ONESHOT_TASK_INDEX")
		require.Equal(t, 0, code, stderr)
		var res cliTasksJSON
		require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
		require.Len(t, res.Tasks, 1, "one node, one task")
		assert.Equal(t, "ONESHOT_TASK_INDEX=0\n", res.Tasks[0].Stdout)
		assert.NotEmpty(t, res.Tasks[0].NodeName)
	})
}

func TestCLITasksTimeout(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	stdout, stderr, code := cliRun(t, "--tasks", "2", "--timeout", "10s", jobkitImage, "echo", "started", "--", "sleep", "60s")
	t.Logf("stdout:\n%sstderr:\n%s", stdout, stderr)
	assert.Equal(t, 124, code, "a timeout, whatever code the stopped tasks exited with")
	assert.Regexp(t, `(?m)^oneshot: job oneshot-\w+: 2 tasks after \d+\.\d\ds: 0 succeeded, `, stderr, "the table: the tasks were stopped")
	assert.Regexp(t, `(?m)^oneshot: job oneshot-\w+ stopped: its timeout of 10s expired; its tasks' services were removed$`, stderr)
	for _, line := range splitLines(stdout) {
		assert.Regexp(t, `^\[[01]\] started$`, line)
	}
}
