package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The command line of examples/oneshot, run as a user runs it, against the
// local single-node swarm. Every service it creates carries the test's
// label, so that tests in parallel check only their own.

// cliBinary is examples/oneshot, built once per test run.
func cliBinary(t *testing.T) string { return exampleBinary(t, "../examples/oneshot") }

// cliCommand is `oneshot run` with the test's label and args.
func cliCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	return exec.Command(cliBinary(t), append([]string{"run", "--label", testLabelPair(t)}, args...)...)
}

// cliRun runs `oneshot run` with the test's label and returns its stdout,
// stderr and exit code.
func cliRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runProgram(t, cliCommand(t, args...))
}

// cliServices lists the services on the swarm that carry the test's label.
func cliServices(t *testing.T) []swarm.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := localDocker(t).ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", testLabelPair(t))})
	require.NoError(t, err)
	return list.Items
}

func TestCLIPassesExitCodeAndStreams(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	for _, code := range []int{0, 3} {
		stdout, stderr, got := cliRun(t, jobkitImage, "echo", "to stdout", "--", "stderr", "to stderr", "--", "exit", fmt.Sprint(code))
		assert.Equal(t, code, got)
		assert.Equal(t, "to stdout\n", stdout)
		assert.Equal(t, "to stderr\n", stderr, "no progress lines off a terminal, no message for a job's own exit code")
	}
}

func TestCLIProgressLinesStayOnTheirOwnLines(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	// One pipe for stdout and stderr, as on a terminal: the job's lines and
	// the progress lines share it.
	var both bytes.Buffer
	// The job runs for a second after its output, so that the poll sees it
	// running: progress shows the states oneshot saw, and a task that
	// starts and ends between two looks at the task list is never seen
	// running.
	cmd := cliCommand(t, "--progress", jobkitImage, "mixed", "40", "--", "sleep", "1s")
	cmd.Stdout, cmd.Stderr = &both, &both
	require.NoError(t, cmd.Run(), both.String())
	var job []string
	progress := regexp.MustCompile(`^oneshot: (task \w{12} \w+( on \S+)?( \(attempt \d+\))?(: .*)? \(\d+\.\d\ds\)|job oneshot-\w+ exited with code 0 after \d+\.\d\ds; service removed)$`)
	for _, line := range strings.Split(strings.TrimSuffix(both.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "oneshot: ") {
			assert.Regexp(t, progress, line)
			continue
		}
		job = append(job, line)
	}
	var want []string
	for i := 1; i <= 40; i++ {
		want = append(want, map[bool]string{true: "out", false: "err"}[i%2 == 1]+fmt.Sprintf(" %d", i))
	}
	assert.ElementsMatch(t, want, job, "every line of the job's, whole")
	assert.Regexp(t, `(?m)^oneshot: task \w+ running on \S+ \(`, both.String())
	assert.Regexp(t, `(?m)^oneshot: task \w+ complete on \S+ \(`, both.String())
}

func TestCLIFlags(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	envFile := filepath.Join(t.TempDir(), "env")
	require.NoError(t, os.WriteFile(envFile, []byte("# comment\nFROM_FILE=yes\nOVERRIDDEN=file\n"), 0o600))
	cmd := cliCommand(t, "-e", "A=1", "--env", "B=two words", "-e", "PASSED", "-e", "NOT_SET_HERE", "--env-file", envFile, "-e", "OVERRIDDEN=flag",
		"--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m", "--tmpfs", "/other", "-w", "/scratch",
		jobkitImage, "env", "A", "B", "PASSED", "NOT_SET_HERE", "FROM_FILE", "OVERRIDDEN", "--", "write", "/scratch/f", "x", "--", "cat", "f",
		"--", "write", "/other/g", "y", "--", "cat", "/other/g")
	cmd.Env = append(os.Environ(), "PASSED=from the caller")
	stdout, stderr, code := runProgram(t, cmd)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "A=1\nB=two words\nPASSED=from the caller\nNOT_SET_HERE=\nFROM_FILE=yes\nOVERRIDDEN=flag\nxy", stdout)
}

func TestCLISecretLongForm(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "oneshot-test-cli-" + strings.ToLower(randomSuffix())
	sec, err := localDocker(t).SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name}, Data: []byte("s3cret")}})
	require.NoError(t, err)
	t.Cleanup(func() { removeSecretEventually(t, sec.ID) })
	stdout, stderr, code := cliRun(t, "--secret", name, "--secret", "source="+name+",target=/etc/app/pw,uid=1000,mode=0400", "-u", "1000",
		jobkitImage, "cat", "/etc/app/pw")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "s3cret", stdout, "the long form's owner and mode let user 1000 read it")
}

func TestCLIJSON(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	stdout, stderr, code := cliRun(t, "--json", jobkitImage, "echo", "hi", "--", "stderr", "oops", "--", "exit", "2")
	assert.Equal(t, 2, code)
	assert.Empty(t, stderr, "in --json mode the job's output is inside the JSON only")
	var res struct {
		ExitCode, Attempts                                int
		Stdout, Stderr, State, TaskID, ServiceName, Error string
		CreatedAt, FinishedAt                             time.Time
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	assert.Equal(t, 2, res.ExitCode)
	assert.Equal(t, "hi\n", res.Stdout)
	assert.Equal(t, "oops\n", res.Stderr)
	assert.Equal(t, "failed", res.State)
	assert.Equal(t, 1, res.Attempts)
	assert.NotEmpty(t, res.TaskID)
	assert.Contains(t, res.Error, res.ServiceName+" exited with code 2")
	assert.False(t, res.FinishedAt.Before(res.CreatedAt))

	stdout, _, code = cliRun(t, "--json", "--secret", "oneshot-no-such-secret", jobkitImage)
	assert.Equal(t, 125, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	assert.Equal(t, -1, res.ExitCode)
	assert.Contains(t, res.Error, "oneshot-no-such-secret")
}

func TestCLIRefusesBadInputWith125(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	// --keep would leave behind anything created: requireNothingLeft checks
	// that nothing was.
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"bad mount", []string{"--mount", "type=tmpfs,target=relative", jobkitImage}, `--mount/-v/--tmpfs "type=tmpfs,target=relative": "relative" is not an absolute path`},
		{"bad mount syntax", []string{"--mount", "type=volume,colour=blue,target=/x", jobkitImage}, `--mount "type=volume,colour=blue,target=/x": unknown field "colour"`},
		{"unknown flag", []string{"--no-such-flag", jobkitImage}, "flag provided but not defined: -no-such-flag"},
		{"unknown secret", []string{"--secret", "oneshot-no-such-secret", jobkitImage}, `no secret named "oneshot-no-such-secret"`},
		{"unknown network", []string{"--network", "oneshot-no-such-network", jobkitImage}, "oneshot-no-such-network"},
		{"reserved label", []string{"--label", "oneshot.managed=false", jobkitImage}, "reserved"},
		{"unreadable log driver", []string{"--log-driver", "syslog", jobkitImage}, `--log-driver/--log-opt: "syslog": the engine cannot serve the logs`},
		{"no image", nil, "needs an IMAGE"},
	} {
		stdout, stderr, code := cliRun(t, append([]string{"--keep"}, tc.args...)...)
		assert.Equal(t, 125, code, tc.name)
		assert.Empty(t, stdout, tc.name)
		assert.Contains(t, stderr, tc.stderr, tc.name)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "%s: one line, no usage dump: %s", tc.name, stderr)
		assert.True(t, strings.HasPrefix(stderr, "oneshot: "), tc.name)
	}
	assert.Empty(t, cliServices(t), "nothing was created")

	_, stderr, code := cliRun(t, "oneshot-no-such-image:v0")
	assert.Equal(t, 125, code)
	assert.Contains(t, stderr, "image not found")
	assert.Contains(t, stderr, "build or pull the image", "the message says what to do")
}

// slowToStop is a job that prints "started", then sleeps; SIGTERM makes it
// print "got SIGTERM" and exit 143 two seconds later, as a job finishing
// its work before it stops does.
var slowToStop = []string{jobkitImage, "onterm", "2s", "got SIGTERM", "--", "echo", "started", "--", "sleep", "60s"}

// slowToStopOutput is all that slowToStop prints when stopped once started.
const slowToStopOutput = "started\ngot SIGTERM\nstopped by terminated after 2s\n"

func TestCLITimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		keep bool
		fate string
	}{
		{"removed", false, "its service was removed"},
		{"kept", true, "its service was kept: 'oneshot prune' removes it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireNothingLeft(t)
			// A timeout generous enough for the task to start on a loaded
			// machine: the job must be running when it is stopped.
			args := append([]string{"--timeout", "15s"}, slowToStop...)
			if tc.keep {
				args = append([]string{"--keep"}, args...)
			}
			start := time.Now()
			stdout, stderr, code := cliRun(t, args...)
			assert.Equal(t, 124, code, "a timeout, whatever code the stopped job exited with")
			assert.Less(t, time.Since(start), 90*time.Second, "the timeout, the job's 2 s to stop, the removal")
			assert.Equal(t, slowToStopOutput, stdout, "all the job printed, what it printed on SIGTERM included")
			assert.Regexp(t, `^oneshot: job oneshot-\w+ stopped: its timeout of 15s expired; it exited with code 143; `+regexp.QuoteMeta(tc.fate)+"\n$", stderr)
			if tc.keep {
				requireKeptStoppedAndPruned(t)
			}
			assert.Empty(t, cliServices(t), "nothing left on the swarm")
		})
	}
}

// requireKeptStoppedAndPruned checks that the test's one service is kept,
// stopped (parked: placed where no node is), and that `oneshot prune`
// removes it.
func requireKeptStoppedAndPruned(t *testing.T) {
	t.Helper()
	kept := cliServices(t)
	require.Len(t, kept, 1)
	require.NotNil(t, kept[0].Spec.TaskTemplate.Placement)
	assert.Contains(t, kept[0].Spec.TaskTemplate.Placement.Constraints, parkConstraint, "parked")
	out, err := exec.Command(cliBinary(t), "prune", "--filter", "label="+testLabelPair(t)).Output()
	require.NoError(t, err, string(out))
	assert.Regexp(t, `^removed `+kept[0].Spec.Name+` \(last task shutdown, `, string(out))
}

func TestCLICtrlCRemovesTheService(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		sig         syscall.Signal
		waitRunning bool
		code        int
		what        string
	}{
		{"SIGINT once the job runs", syscall.SIGINT, true, 130, "interrupted by SIGINT"},
		{"SIGINT as soon as the service exists", syscall.SIGINT, false, 130, "interrupted by SIGINT"},
		{"SIGTERM once the job runs", syscall.SIGTERM, true, 143, "interrupted by SIGTERM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireNothingLeft(t)
			cmd := cliCommand(t, slowToStop...)
			var stdout, stderr cliBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			cliAwait(t, "the job's service", func() bool { return len(cliServices(t)) > 0 })
			if tc.waitRunning {
				cliAwait(t, "the job's output", func() bool { return strings.Contains(stdout.String(), "started") })
			}
			require.NoError(t, cmd.Process.Signal(tc.sig))
			sent := time.Now()
			var err error
			select {
			case err = <-done:
				t.Logf("exited %s after the signal: %s", time.Since(sent).Round(time.Millisecond), strings.TrimSpace(stderr.String()))
			case <-time.After(60 * time.Second):
				t.Fatal("oneshot run did not exit within 60 s of the signal")
			}
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr)
			assert.Equal(t, tc.code, exitErr.ExitCode())
			assert.Empty(t, cliServices(t), "no service left once the command has exited")
			assert.Contains(t, stderr.String(), "oneshot: stopping the job: SIGTERM now, SIGKILL if it is still running after its stop grace period of 10s; waiting until it has stopped")
			assertStoppedMessage(t, stdout.String(), stderr.String(), tc.what)
		})
	}
}

// assertStoppedMessage checks what the command printed about the job that
// the signal stopped: once the job has printed "started", all it printed on
// SIGTERM and its exit code; before, that it was stopped. Its service was
// removed either way.
func assertStoppedMessage(t *testing.T, stdout, stderr, what string) {
	t.Helper()
	stopped := `(?m)^oneshot: job oneshot-\w+ stopped: ` + what
	if strings.Contains(stdout, "started") {
		assert.Equal(t, slowToStopOutput, stdout, "all the job printed, what it printed on SIGTERM included")
		assert.Regexp(t, stopped+"; it exited with code 143; its service was removed$", stderr)
		return
	}
	// Stopped before it ran its first sub-command: it never started, or
	// its container got SIGTERM as it started.
	assert.Regexp(t, stopped+"(; it had not started|; it exited with code 143)?; its service was removed$", stderr)
}

// cliBuffer is a buffer that a command writes while the test reads it.
type cliBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *cliBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *cliBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cliAwait waits up to 60 s for cond, polling every 50 ms.
func cliAwait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 60*time.Second, 50*time.Millisecond, "waiting for %s", what)
}

func TestCLIPrune(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	_, stderr, code := cliRun(t, "--keep", jobkitImage, "exit", "0")
	require.Equal(t, 0, code)
	assert.Regexp(t, `service kept`, stderr, "--keep says what it kept")
	kept := cliServices(t)
	require.Len(t, kept, 1)

	prune := func(args ...string) string {
		args = append([]string{"prune", "--filter", "label=" + testLabelPair(t)}, args...)
		out, err := exec.Command(cliBinary(t), args...).Output()
		require.NoError(t, err, string(out))
		return string(out)
	}
	assert.Empty(t, prune("--older-than", "1h"), "too young")
	assert.Regexp(t, `^would remove `+kept[0].Spec.Name+` \(last task complete, created \d+s ago\)\n$`, prune("--dry-run"))
	assert.Len(t, cliServices(t), 1, "a dry run removes nothing")
	assert.Regexp(t, `^removed `+kept[0].Spec.Name+` \(`, prune())
	assert.Empty(t, cliServices(t))
}
