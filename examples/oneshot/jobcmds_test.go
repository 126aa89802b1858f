package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

func TestPrintJobs(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	jobs := []oneshot.JobInfo{
		{Name: "oneshot-a", State: oneshot.StateRunning, NodeName: "node-1", ExitCode: -1, CreatedAt: now.Add(-90 * time.Second), Waiters: 2, Image: "app:v1", IdempotencyKey: "k"},
		{Name: "oneshot-b", State: oneshot.StateShutdown, ExitCode: 143, CreatedAt: now.Add(-50 * time.Hour), Kept: true, Stopped: true, Image: "app:v2"},
		{Name: "oneshot-c", ExitCode: -1, CreatedAt: now.Add(-3 * time.Second)},
	}
	var out strings.Builder
	printJobs(&out, jobs, false, now)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, []string{"NAME", "STATE", "NODE", "EXIT", "AGE", "WAITERS", "IMAGE", "KEY"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"oneshot-a", "running", "node-1", "-", "1m", "2", "app:v1", "k"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{"oneshot-b", "shutdown,stopped,kept", "-", "143", "2d", "0", "app:v2", "-"}, strings.Fields(lines[2]))
	assert.Equal(t, []string{"oneshot-c", "created", "-", "-", "3s", "0", "-"}, strings.Fields(lines[3]))

	out.Reset()
	printJobs(&out, jobs, true, now)
	assert.Equal(t, "oneshot-a\noneshot-b\noneshot-c\n", out.String())
}

func TestParseAttachFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		stop    bool
		job     string
		wantErr string
	}{
		{name: "a job", args: []string{"oneshot-1"}, job: "oneshot-1"},
		{name: "flags", args: []string{"--output-from-now", "--timeout", "5m", "-q", "oneshot-1"}, job: "oneshot-1"},
		{name: "no job", args: nil, wantErr: "oneshot attach takes one job name or ID"},
		{name: "two jobs", args: []string{"a", "b"}, wantErr: "takes one job"},
		{name: "stop takes no timeout", args: []string{"--timeout", "5m", "a"}, stop: true, wantErr: "flag provided but not defined: -timeout; see 'oneshot stop --help'"},
		{name: "help", args: []string{"--help"}, wantErr: errHelp.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags, job, err := parseAttachFlags(tc.args, tc.stop)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.job, job)
			assert.NotNil(t, flags)
		})
	}
}

func TestAStoppedJobExitsWithItsOwnCode(t *testing.T) {
	res := &oneshot.Result{ExitCode: 143, ServiceName: "oneshot-1", StartedAt: time.Now()}
	stop := &oneshot.StopError{Job: "oneshot-1", Reason: oneshot.ErrJobStopped, By: "Job.Stop", Result: res}
	o := decide(res, stop, nil, false)
	assert.Equal(t, 143, o.code)
	assert.Contains(t, o.message, "oneshot: job oneshot-1 stopped (oneshot stop)")

	never := &oneshot.Result{ExitCode: -1, ServiceName: "oneshot-2"}
	o = decide(never, &oneshot.StopError{Job: "oneshot-2", Reason: oneshot.ErrJobStopped, By: "Job.Stop", Result: never}, nil, false)
	assert.Equal(t, 125, o.code)
	assert.False(t, errors.Is(o.refusal, oneshot.ErrJobStopped), "a stop asked for is no refusal")
}
