package integration

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cliJob runs `oneshot COMMAND ARGS...` and returns its stdout, stderr and
// exit code.
func cliJob(t *testing.T, command string, args ...string) (string, string, int) {
	t.Helper()
	return runProgram(t, exec.Command(cliBinary(t), append([]string{command}, args...)...))
}

func TestCLIDetachPsLogsAttach(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	g := newGate(t)
	stdout, stderr, code := cliRun(t, "--detach", "--mount", "type=bind,source="+g.dir+",target=/gate",
		jobkitImage, "echo", "working", "--", "waitfile", "/gate/open", "--", "stderr", "done", "--", "exit", "5")
	require.Equal(t, 0, code, stderr)
	name := strings.TrimSpace(stdout)
	require.Regexp(t, `^oneshot-[0-9a-f]{12}$`, name, "--detach prints the job's name")

	ps, stderr, code := cliJob(t, "ps")
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, regexp.MustCompile(`(?m)^NAME\s+STATE\s+NODE\s+EXIT\s+AGE\s+WAITERS\s+IMAGE\s+KEY$`), ps)
	assert.Regexp(t, regexp.MustCompile(`(?m)^`+name+`\s+\S+\s+`), ps, "ps lists the detached job")
	quiet, _, _ := cliJob(t, "ps", "-q")
	assert.Contains(t, strings.Fields(quiet), name)

	cliAwait(t, "the job's first line", func() bool {
		out, _, code := cliJob(t, "logs", name)
		return code == 0 && out == "working\n"
	})
	g.open(t)
	stdout, stderr, code = cliJob(t, "attach", name)
	assert.Equal(t, 5, code, "attach exits with the job's code")
	assert.Equal(t, "working\n", stdout, "streams from the beginning")
	assert.Contains(t, stderr, "done\n")
	assert.Empty(t, cliServices(t), "the last waiter removed the job's service")

	_, stderr, code = cliJob(t, "attach", name)
	assert.Equal(t, 125, code)
	assert.Contains(t, stderr, "no job service of that name or ID")
}

func TestCLIStopAndIdempotencyKey(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	key := "nightly-" + randomSuffix()
	args := []string{"--detach", "--idempotency-key", key, "--stop-timeout", "5s", jobkitImage, "onterm", "0s", "bye", "--", "echo", "up", "--", "sleep", "5m"}
	first, stderr, code := cliRun(t, args...)
	require.Equal(t, 0, code, stderr)
	second, stderr, code := cliRun(t, args...)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, first, second, "the same key names the same job")
	assert.Contains(t, stderr, "already in flight")
	require.Len(t, cliServices(t), 1)
	name := strings.TrimSpace(first)

	cliAwait(t, "the job running", func() bool {
		out, _, _ := cliJob(t, "logs", name)
		return out == "up\n"
	})
	stdout, stderr, code := cliJob(t, "stop", name)
	assert.Equal(t, 143, code, stderr)
	assert.Equal(t, "up\nbye\nstopped by terminated after 0s\n", stdout)
	assert.Empty(t, cliServices(t))
}
