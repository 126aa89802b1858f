package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

// Results and errors as the library returns them, for the tables below.
var (
	exitedWith3    = &oneshot.Result{ExitCode: 3, ServiceName: "oneshot-a", State: oneshot.StateFailed}
	exitedWith0    = &oneshot.Result{ExitCode: 0, ServiceName: "oneshot-a", State: oneshot.StateComplete}
	leftBehind     = &oneshot.Result{ExitCode: 0, ServiceName: "oneshot-a", State: oneshot.StateComplete, CleanupErr: cleanupErr}
	cleanupErr     = &oneshot.CleanupError{ServiceID: "svc1", Err: errors.New("engine gone")}
	outputLost     = &oneshot.OutputError{Job: "oneshot-a", Stream: "stdout", Problem: oneshot.OutputLost, Offset: 10, Size: -1}
	writerGone     = &oneshot.OutputError{Job: "oneshot-a", Stream: "stderr", Problem: oneshot.OutputWriterFailed, Offset: 4, Size: -1, Err: syscall.EPIPE}
	stoppedAndLeft = &oneshot.Result{ExitCode: 143, ServiceName: "oneshot-a", State: oneshot.StateShutdown, CleanupErr: cleanupErr}
	sigint         = jobexit.Interrupted{Signal: syscall.SIGINT}
	sigterm        = jobexit.Interrupted{Signal: syscall.SIGTERM}
)

// stoppedResult is the Result of a job stopped after it started, with the
// exit code it had once stopped (-1: none).
func stoppedResult(code int) *oneshot.Result {
	return &oneshot.Result{ExitCode: code, ServiceName: "oneshot-a", State: oneshot.StateShutdown, StartedAt: time.Unix(1, 0)}
}

// timedOut is the StopError of a job stopped by --timeout 2s.
func timedOut(res *oneshot.Result) *oneshot.StopError {
	return &oneshot.StopError{Job: "oneshot-a", Reason: context.DeadlineExceeded, By: "its timeout of 2s", Result: res}
}

// interrupted is the StopError of a job stopped by the signal's context.
func interrupted(sig jobexit.Interrupted, res *oneshot.Result) *oneshot.StopError {
	return &oneshot.StopError{Job: "oneshot-a", Reason: context.Canceled, By: "the context given to Run", Cause: sig, Result: res}
}

func TestDecideExitedJobs(t *testing.T) {
	cases := []struct {
		name     string
		res      *oneshot.Result
		err      error
		cause    error
		code     int
		message  string
		warnings []string // a part of each
	}{
		{name: "success", res: exitedWith0, code: 0},
		{name: "exit code", res: exitedWith3, err: &oneshot.ExitError{Result: exitedWith3}, code: 3},
		{name: "success, service left", res: leftBehind, code: 0,
			warnings: []string{"oneshot: warning: remove service svc1: engine gone (remove it with `docker service rm svc1`"}},
		{name: "success, output lost", res: exitedWith0, err: outputLost, code: 0,
			warnings: []string{"oneshot: warning: job oneshot-a: job output incomplete: an unknown number of bytes of stdout from byte 10 on are lost"}},
		{name: "exit code, two output problems", res: exitedWith3, err: errors.Join(&oneshot.ExitError{Result: exitedWith3}, errors.Join(outputLost, writerGone)), code: 3,
			warnings: []string{"bytes of stdout from byte 10 on are lost", "the stderr writer failed after 4 bytes"}},
		{name: "exit code, service removed by someone else", res: exitedWith3,
			err:  &oneshot.TaskError{Kind: oneshot.ErrServiceRemoved, ServiceName: "oneshot-a", State: oneshot.StateShutdown},
			code: 3, message: "job service removed"},
		{name: "Ctrl-C after the exit", res: exitedWith3, err: &oneshot.ExitError{Result: exitedWith3}, cause: sigint, code: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := decide(tc.res, tc.err, tc.cause, false)
			assert.Equal(t, tc.code, o.code)
			assert.True(t, o.exited)
			assert.Empty(t, o.stopped)
			assert.NoError(t, o.refusal)
			assertContains(t, tc.message, o.message)
			assertEachContains(t, tc.warnings, o.warnings)
		})
	}
}

func TestDecideStoppedJobs(t *testing.T) {
	cases := []struct {
		name     string
		res      *oneshot.Result
		err      error
		cause    error
		kept     bool
		code     int
		message  string // whole
		stopped  string
		warnings []string // a part of each
	}{
		{name: "timeout, exited 143", err: timedOut(stoppedResult(143)), code: 124, stopped: "its timeout of 2s expired",
			message: "oneshot: job oneshot-a stopped: its timeout of 2s expired; it exited with code 143; its service was removed"},
		{name: "timeout, exited 0", err: timedOut(stoppedResult(0)), code: 124, stopped: "its timeout of 2s expired",
			message: "oneshot: job oneshot-a stopped: its timeout of 2s expired; it exited with code 0; its service was removed"},
		{name: "timeout, kept", err: timedOut(stoppedResult(143)), kept: true, code: 124, stopped: "its timeout of 2s expired",
			message: "oneshot: job oneshot-a stopped: its timeout of 2s expired; it exited with code 143; its service was kept: 'oneshot prune' removes it"},
		{name: "timeout before the job started", err: timedOut(&oneshot.Result{ExitCode: -1, ServiceName: "oneshot-a"}), code: 124, stopped: "its timeout of 2s expired",
			message: "oneshot: job oneshot-a stopped: its timeout of 2s expired; it had not started; its service was removed"},
		{name: "timeout, output lost too", err: errors.Join(timedOut(stoppedResult(143)), outputLost), code: 124, stopped: "its timeout of 2s expired",
			message:  "oneshot: job oneshot-a stopped: its timeout of 2s expired; it exited with code 143; its service was removed",
			warnings: []string{"oneshot: warning: job oneshot-a: job output incomplete"}},
		{name: "Ctrl-C", err: interrupted(sigint, stoppedResult(143)), cause: sigint, code: 130, stopped: "interrupted by SIGINT",
			message: "oneshot: job oneshot-a stopped: interrupted by SIGINT; it exited with code 143; its service was removed"},
		{name: "Ctrl-C, kept", err: interrupted(sigint, stoppedResult(143)), cause: sigint, kept: true, code: 130, stopped: "interrupted by SIGINT",
			message: "oneshot: job oneshot-a stopped: interrupted by SIGINT; it exited with code 143; its service was kept: 'oneshot prune' removes it"},
		{name: "Ctrl-C, no exit code", err: interrupted(sigint, stoppedResult(-1)), cause: sigint, code: 130, stopped: "interrupted by SIGINT",
			message: "oneshot: job oneshot-a stopped: interrupted by SIGINT; its service was removed"},
		{name: "SIGTERM", err: interrupted(sigterm, stoppedResult(143)), cause: sigterm, code: 143, stopped: "interrupted by SIGTERM",
			message: "oneshot: job oneshot-a stopped: interrupted by SIGTERM; it exited with code 143; its service was removed"},
		{name: "Ctrl-C, the signal known only from the context", err: &oneshot.StopError{Job: "oneshot-a", Reason: context.Canceled, By: "the context given to Run", Result: stoppedResult(130)},
			cause: sigint, code: 130, stopped: "interrupted by SIGINT",
			message: "oneshot: job oneshot-a stopped: interrupted by SIGINT; it exited with code 130; its service was removed"},
		{name: "Ctrl-C, service left", res: stoppedAndLeft, err: interrupted(sigint, stoppedAndLeft), cause: sigint,
			code: 130, stopped: "interrupted by SIGINT",
			message:  "oneshot: job oneshot-a stopped: interrupted by SIGINT; it exited with code 143",
			warnings: []string{"oneshot: warning: remove service svc1: engine gone"}},
		{name: "Ctrl-C, may still run", cause: sigint, code: 130, stopped: "interrupted by SIGINT",
			err: &oneshot.StopError{Job: "oneshot-a", Reason: context.Canceled, By: "the context given to Run", Cause: sigint, Result: stoppedResult(-1),
				StillRunning: true, Problem: "its task had not ended 15s after it was asked to stop"},
			message: "oneshot: job oneshot-a stopped: interrupted by SIGINT; it may still be running: its task had not ended 15s after it was asked to stop; its service was removed"},
		{name: "timeout first, Ctrl-C after", err: timedOut(stoppedResult(143)), cause: sigint, code: 124, stopped: "its timeout of 2s expired",
			message: "oneshot: job oneshot-a stopped: its timeout of 2s expired; it exited with code 143; its service was removed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := decide(tc.res, tc.err, tc.cause, tc.kept)
			assert.Equal(t, tc.code, o.code)
			assert.False(t, o.exited)
			assert.Equal(t, tc.message, o.message)
			assert.Equal(t, tc.stopped, o.stopped)
			assertEachContains(t, tc.warnings, o.warnings)
		})
	}
}

func TestDecideJobsThatDidNotRun(t *testing.T) {
	cases := []struct {
		name    string
		res     *oneshot.Result
		err     error
		cause   error
		code    int
		message string // a part of the message, or of the refusal
	}{
		{name: "spec", err: &oneshot.SpecError{Field: "Image", Problem: "empty"}, code: 125, message: "JobSpec.Image"},
		{name: "image", res: stoppedResult(-1), err: &oneshot.TaskError{Kind: oneshot.ErrImageNotFound, ServiceName: "oneshot-a"}, code: 125, message: "image not found"},
		{name: "not a manager", err: fmt.Errorf("oneshot: create: %w", oneshot.ErrNotSwarmManager), code: 125, message: "swarm manager"},
		{name: "Ctrl-C before start", err: fmt.Errorf("oneshot: job oneshot-a not started: %w", context.Canceled), cause: sigint, code: 130,
			message: "oneshot: interrupted by SIGINT before the job started; nothing was left on the swarm"},
		{name: "Runner closed", err: &oneshot.StopError{Job: "oneshot-a", Reason: oneshot.ErrRunnerClosed, By: "Runner.Close", Result: stoppedResult(-1)},
			code: 125, message: "oneshot: job oneshot-a stopped: its Runner was closed; its service was removed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := decide(tc.res, tc.err, tc.cause, false)
			assert.Equal(t, tc.code, o.code)
			assert.False(t, o.exited)
			text := o.message
			if o.refusal != nil {
				text = o.refusal.Error()
			}
			assert.Contains(t, text, tc.message)
		})
	}
}

func TestDecideRefusalLeavesOutputProblemsToTheWarnings(t *testing.T) {
	lost := &oneshot.TaskError{Kind: oneshot.ErrNodeLost, ServiceName: "oneshot-a"}
	o := decide(stoppedResult(-1), errors.Join(lost, outputLost), nil, false)
	assert.Equal(t, 125, o.code)
	assert.Equal(t, lost, o.refusal)
	assertEachContains(t, []string{"oneshot: warning: job oneshot-a: job output incomplete"}, o.warnings)
}

func TestReportSpeaksOfFlags(t *testing.T) {
	flags := &runFlags{secrets: stringList{"db-password"}}
	o := decide(exitedWith0, errors.Join(&oneshot.OutputError{Job: "oneshot-a", Stream: "stdout", Problem: oneshot.OutputLost, Size: -1}), nil, false)
	lines := flags.report(o)
	assert.Len(t, lines, 1)
	assert.Contains(t, lines[0], "keep all of it with --log-driver and --log-opt")

	o = decide(leftBehind, nil, nil, false)
	assert.Equal(t, []string{"oneshot: warning: remove service svc1: engine gone (remove it with `docker service rm svc1` or 'oneshot prune')"}, flags.report(o))

	o = decide(nil, &oneshot.SpecError{Field: "Secrets[0].Name", Problem: "missing"}, nil, false)
	assert.Equal(t, []string{`oneshot: --secret "db-password": missing`}, flags.report(o))
}

func TestStoppingNote(t *testing.T) {
	assert.Equal(t, "oneshot: stopping the job: SIGTERM now, SIGKILL if it is still running after its stop grace period of 10s; "+
		"waiting until it has stopped to remove its service (press Ctrl-C again to quit at once)", stoppingNote(&runFlags{}))
	given := map[string]bool{"stop-timeout": true}
	assert.Contains(t, stoppingNote(&runFlags{stopTimeout: 3 * time.Second, keep: true, given: given}), "grace period of 3s; waiting until it has stopped to keep its service")
	fromService := oneshot.JobSpec{StopGracePeriod: 30 * time.Second}
	assert.Contains(t, stoppingNote(&runFlags{base: fromService}), "grace period of 30s;", "the service's")
	assert.Contains(t, stoppingNote(&runFlags{base: fromService, stopTimeout: 3 * time.Second, given: given}), "grace period of 3s;", "--stop-timeout wins")
}

// assertContains checks that got contains want, or is empty when want is.
func assertContains(t *testing.T, want, got string) {
	t.Helper()
	if want == "" {
		assert.Empty(t, got)
		return
	}
	assert.Contains(t, got, want)
}

// assertEachContains checks that there are as many lines as wanted, each
// containing its part.
func assertEachContains(t *testing.T, want, got []string) {
	t.Helper()
	if !assert.Len(t, got, len(want), "%q", got) {
		return
	}
	for i := range want {
		assert.Contains(t, got[i], want[i])
	}
}
