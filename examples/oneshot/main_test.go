package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// runForTest runs the command line with args, off a terminal, and returns
// its exit code, stdout and stderr. Only arguments refused before the engine
// is asked anything may be given: no Docker is needed.
func runForTest(args ...string) (int, string, string) {
	var stdout, stderr strings.Builder
	code := run(args, terminal{stdout: &stdout, stderr: &stderr})
	return code, stdout.String(), stderr.String()
}

func TestCommandLineRefusals(t *testing.T) {
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{args: nil, code: 125, stderr: "Usage:"},
		{args: []string{"launch"}, code: 125, stderr: `unknown command "launch"`},
		{args: []string{"run"}, code: 125, stderr: "needs an IMAGE"},
		{args: []string{"run", "--bogus", "app:v1"}, code: 125, stderr: "oneshot: flag provided but not defined: -bogus; see 'oneshot run --help'\n"},
		{args: []string{"run", "--memory", "lots", "app:v1"}, code: 125, stderr: `oneshot: --memory "lots": `},
		{args: []string{"run", "--tasks", "0", "app:v1"}, code: 125, stderr: "oneshot: --tasks \"0\": want 1 or more tasks\n"},
		{args: []string{"run", "--global", "--tasks", "2", "app:v1"}, code: 125, stderr: "oneshot: --tasks and --global do not go together"},
		{args: []string{"stack", "run", "--parallelism", "-3", "app", "web"}, code: 125, stderr: "oneshot: --parallelism \"-3\": "},
		{args: []string{"prune", "--filter", "name=x"}, code: 125, stderr: "want label=KEY"},
		{args: []string{"prune", "extra"}, code: 125, stderr: "unexpected argument"},
	}
	for _, tc := range cases {
		code, stdout, stderr := runForTest(tc.args...)
		assert.Equal(t, tc.code, code, tc.args)
		assert.Empty(t, stdout, tc.args)
		assert.Contains(t, stderr, tc.stderr, tc.args)
	}
}

func TestHelpGoesToStdout(t *testing.T) {
	for args, want := range map[string]string{"run --help": runUsage, "run -h": runUsage, "prune --help": pruneUsage, "help": "Usage:"} {
		code, stdout, stderr := runForTest(strings.Fields(args)...)
		assert.Equal(t, 0, code, args)
		assert.Contains(t, stdout, want, args)
		assert.Empty(t, stderr, args)
	}
	code, stdout, _ := runForTest("version")
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(stdout, "oneshot "), stdout)
}

func TestPrintJSON(t *testing.T) {
	var out strings.Builder
	finished := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	res := &oneshot.Result{ExitCode: 2, State: oneshot.StateFailed, Stdout: []byte("hi\n"), Stderr: []byte("oops\n"),
		ServiceName: "oneshot-a", TaskID: "t1", Attempts: 1, FinishedAt: finished}
	printJSON(&out, res, errors.New("oneshot: job oneshot-a exited with code 2: oops"), outcome{code: 2, exited: true}, nil)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out.String()), &got))
	assert.Equal(t, map[string]any{
		"ExitCode": 2.0, "State": "failed", "Stdout": "hi\n", "Stderr": "oops\n", "ServiceName": "oneshot-a",
		"TaskID": "t1", "Attempts": 1.0, "FinishedAt": "2026-11-24T06:00:00Z", "Error": "oneshot: job oneshot-a exited with code 2: oops",
	}, got, "unknown times and empty fields are left out")

	out.Reset()
	printJSON(&out, nil, errors.New("oneshot: JobSpec.Image: empty"), outcome{code: 125}, nil)
	var none map[string]any
	require.NoError(t, json.Unmarshal([]byte(out.String()), &none))
	assert.Equal(t, map[string]any{"ExitCode": -1.0, "Stdout": "", "Stderr": "", "Error": "oneshot: JobSpec.Image: empty"}, none)
}

func TestPrintJSONOfAStoppedJob(t *testing.T) {
	var out strings.Builder
	res := &oneshot.Result{ExitCode: 143, State: oneshot.StateShutdown, Stdout: []byte("started\n"), ServiceName: "oneshot-a",
		CleanupErr: &oneshot.CleanupError{ServiceID: "svc1", Err: errors.New("engine gone")}}
	err := &oneshot.StopError{Job: "oneshot-a", Reason: context.DeadlineExceeded, By: "its timeout of 2s", Result: res}
	printJSON(&out, res, err, decide(res, err, nil, false), nil)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out.String()), &got))
	assert.Equal(t, 143.0, got["ExitCode"], "the job's own code; the command exits 124")
	assert.Equal(t, "its timeout of 2s expired", got["Stopped"])
	assert.Equal(t, err.Error(), got["Error"])
	assert.Contains(t, got["CleanupErr"], "docker service rm svc1")
	assert.NotContains(t, got, "StillRunning", "false is left out")

	out.Reset()
	err.StillRunning, err.Problem = true, "its task had not ended"
	printJSON(&out, res, err, decide(res, err, nil, false), nil)
	require.NoError(t, json.Unmarshal([]byte(out.String()), &got))
	assert.Equal(t, true, got["StillRunning"])
}
