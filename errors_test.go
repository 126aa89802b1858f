package oneshot

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpecErrorMessage(t *testing.T) {
	cases := []struct {
		in   SpecError
		want string
	}{
		{SpecError{Field: "Env[2]", Problem: `"X" is not KEY=VALUE`, Fix: "write KEY=VALUE"},
			`oneshot: JobSpec.Env[2]: "X" is not KEY=VALUE; write KEY=VALUE`},
		{SpecError{Field: "Mounts[0].Target", Problem: `"/d" is mounted twice`},
			`oneshot: JobSpec.Mounts[0].Target: "/d" is mounted twice`},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.in.Error())
	}
}

func TestExitErrorMessage(t *testing.T) {
	cases := []struct {
		name   string
		stderr string
		want   string
	}{
		{"no stderr", "", "oneshot: job backup exited with code 3"},
		{"one line", "connection refused\n", "oneshot: job backup exited with code 3: connection refused"},
		{"the last line", "starting\nmigrating\nconnection refused\n", "oneshot: job backup exited with code 3: connection refused"},
		{"no final newline", "starting\nfailed", "oneshot: job backup exited with code 3: failed"},
		{"CRLF", "starting\r\nfailed\r\n", "oneshot: job backup exited with code 3: failed"},
		{"trailing blank lines", "failed\n\n\n", "oneshot: job backup exited with code 3: failed"},
		{"only newlines", "\n\n", "oneshot: job backup exited with code 3"},
		{"200 characters are kept", strings.Repeat("x", 200) + "\n", "oneshot: job backup exited with code 3: " + strings.Repeat("x", 200)},
		{"longer lines are cut at 200", "first\n" + strings.Repeat("y", 500), "oneshot: job backup exited with code 3: " + strings.Repeat("y", 200) + "..."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := &ExitError{Result: &Result{ServiceName: "backup", ExitCode: 3}, Stderr: []byte(tc.stderr)}
			assert.Equal(t, tc.want, err.Error())
			assert.Equal(t, 3, err.ExitCode())
		})
	}
}

func TestExitErrorCutsTheLineOnACharacter(t *testing.T) {
	// 100 three-byte characters: byte 200 falls inside the 67th.
	line := strings.Repeat("€", 100)
	err := &ExitError{Result: &Result{ServiceName: "job", ExitCode: 1}, Stderr: []byte(line + "\n")}
	msg := err.Error()
	assert.True(t, utf8.ValidString(msg), "the message is valid UTF-8: %q", msg)
	assert.True(t, strings.HasSuffix(msg, "..."), msg)
	assert.LessOrEqual(t, len(msg), len("oneshot: job job exited with code 1: ")+200+len("..."))
}

func TestExitErrorWithErrorsAs(t *testing.T) {
	res := &Result{ServiceName: "job", ExitCode: 42}
	var err error = &ExitError{Result: res, Stderr: []byte("boom\n")}
	err = joinErrors(err, &CleanupError{ServiceID: "svc", Err: errors.New("timeout")})
	var exitErr *ExitError
	require.ErrorAs(t, err, &exitErr, "found in a joined error too")
	assert.Equal(t, 42, exitErr.ExitCode())
	assert.Same(t, res, exitErr.Result)
}

func TestTaskErrorMessage(t *testing.T) {
	const taskID, nodeID = "t0123456789abcdefghij", "n0123456789abcdefghij"
	cases := []struct {
		name  string
		in    TaskError
		wants []string
		hint  string
	}{
		{"image not found", TaskError{Kind: ErrImageNotFound, ServiceName: "job", TaskID: taskID, NodeID: nodeID, State: StateRejected,
			Message: "preparing", Err: "No such image: app:v1"},
			[]string{"oneshot: job job: image not found (task t0123456789a rejected on node n0123456789a): No such image: app:v1"},
			"push it to a registry"},
		{"unschedulable, no node", TaskError{Kind: ErrUnschedulable, ServiceName: "job", TaskID: taskID, State: StatePending,
			Err: "no suitable node (scheduling constraints not satisfied on 3 nodes)"},
			[]string{"oneshot: job job: no suitable node (task t0123456789a pending): no suitable node (scheduling constraints"},
			"WithScheduleTimeout"},
		{"node lost", TaskError{Kind: ErrNodeLost, ServiceName: "job", TaskID: taskID, NodeID: nodeID, State: StateRunning},
			[]string{"oneshot: job job: node lost (task t0123456789a running on node n0123456789a)"},
			"may be run again"},
		{"the message when there is no error text", TaskError{Kind: ErrTaskFailed, ServiceName: "job", TaskID: "short", State: StateFailed,
			Message: "starting"},
			[]string{"oneshot: job job: task failed (task short failed): starting"}, ""},
		{"service removed", TaskError{Kind: ErrServiceRemoved, ServiceName: "job", TaskID: taskID, State: StateShutdown},
			[]string{"oneshot: job job: job service removed (task t0123456789a shutdown)"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := &tc.in
			msg := err.Error()
			for _, want := range tc.wants {
				assert.Contains(t, msg, want)
			}
			if tc.hint != "" {
				assert.Contains(t, msg, tc.hint)
			} else {
				assert.NotContains(t, msg, "; ", "no hint: %s", msg)
			}
			assert.NotContains(t, msg, taskID, "IDs are shortened")
			assert.NotContains(t, msg, nodeID, "IDs are shortened")
		})
	}
}

func TestTaskErrorKindWithErrorsIs(t *testing.T) {
	kinds := []error{ErrImageNotFound, ErrUnschedulable, ErrNodeLost, ErrServiceRemoved, ErrTaskFailed}
	for _, kind := range kinds {
		var err error = &TaskError{Kind: kind, ServiceName: "job", TaskID: "t1", State: StateFailed}
		assert.ErrorIs(t, err, kind)
		assert.ErrorIs(t, joinErrors(err, &CleanupError{ServiceID: "s", Err: errors.New("x")}), kind, "in a joined error too")
		for _, other := range kinds {
			if other != kind {
				assert.NotErrorIs(t, err, other, "%v is not %v", kind, other)
			}
		}
		var taskErr *TaskError
		require.ErrorAs(t, err, &taskErr)
		assert.Same(t, kind, taskErr.Kind)
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
	}
}

func TestShortID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"0123456789ab", "0123456789ab"},
		{"0123456789abc", "0123456789ab"},
		{"xv1wvbqmr2nh7j2lq9wf5bz1e", "xv1wvbqmr2nh"},
	} {
		assert.Equal(t, tc.want, shortID(tc.in), tc.in)
	}
}

func TestCleanupError(t *testing.T) {
	engineErr := cerrdefs.ErrUnavailable.WithMessage("manager unreachable")
	err := &CleanupError{ServiceID: "svc123", Err: engineErr}
	assert.Equal(t, "oneshot: remove service svc123: manager unreachable (remove it with `docker service rm svc123` or oneshot.Prune)", err.Error())
	assert.Equal(t, engineErr, errors.Unwrap(err))
	assert.ErrorIs(t, err, engineErr)
	assert.True(t, cerrdefs.IsUnavailable(err), "the engine's error class shows through")

}

func TestJoinErrors(t *testing.T) {
	exit := &ExitError{Result: &Result{ServiceName: "job", ExitCode: 1}}
	cleanup := &OutputError{Job: "job", Stream: "stdout", Problem: OutputLost, Size: -1}
	logs := errors.New("oneshot: read the logs of job job: EOF")

	assert.NoError(t, joinErrors())
	assert.NoError(t, joinErrors(nil, nil))
	assert.True(t, joinErrors(nil) == nil, "an untyped nil")

	single := joinErrors(nil, exit, nil)
	got, ok := single.(*ExitError)
	require.True(t, ok, "a single error is returned as is: a type assertion works")
	assert.Same(t, exit, got)
	assert.Same(t, logs, joinErrors(logs, nil))

	joined := joinErrors(exit, nil, logs, cleanup)
	_, ok = joined.(*ExitError)
	assert.False(t, ok)
	var gotExit *ExitError
	var gotOutput *OutputError
	assert.ErrorAs(t, joined, &gotExit)
	assert.ErrorAs(t, joined, &gotOutput)
	assert.ErrorIs(t, joined, logs)
	assert.Equal(t, exit.Error()+"\n"+logs.Error()+"\n"+cleanup.Error(), joined.Error(), "in order, one a line")
}

func TestStopErrorMatchesOneReasonAndSaysWhatHappened(t *testing.T) {
	custom := errors.New("deploy aborted")
	cases := []struct {
		name    string
		err     *StopError
		is      error
		isNot   []error
		message string
	}{
		{"a timeout", &StopError{Job: "job1", Reason: context.DeadlineExceeded, By: "its timeout of 2s", Result: &Result{ExitCode: 143}},
			context.DeadlineExceeded, []error{context.Canceled, ErrRunnerClosed},
			"oneshot: job job1 stopped: its timeout of 2s expired; it exited with code 143"},
		{"a cancelled context", &StopError{Job: "job1", Reason: context.Canceled, By: "the context given to Run", Result: &Result{ExitCode: -1}},
			context.Canceled, []error{context.DeadlineExceeded},
			"oneshot: job job1 stopped: the context given to Run is done: context canceled; it had not started"},
		{"a cause", &StopError{Job: "job1", Reason: context.Canceled, By: "the context given to Start", Cause: custom, Result: &Result{ExitCode: 0, StartedAt: t0}},
			custom, []error{context.DeadlineExceeded},
			"oneshot: job job1 stopped: the context given to Start is done: context canceled (deploy aborted); it exited with code 0"},
		{"Close", &StopError{Job: "job1", Reason: ErrRunnerClosed, By: "Runner.Close", Result: &Result{ExitCode: -1, StartedAt: t0}},
			ErrRunnerClosed, []error{context.Canceled, context.DeadlineExceeded},
			"oneshot: job job1 stopped: its Runner was closed"},
		{"still running", &StopError{Job: "job1", Reason: context.Canceled, By: "the context given to Wait", StillRunning: true, Problem: "node w1 is down"},
			context.Canceled, nil,
			"oneshot: job job1 stopped: the context given to Wait is done: context canceled; it may still be running: node w1 is down"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.message, tc.err.Error())
			assert.ErrorIs(t, tc.err, tc.is)
			for _, other := range tc.isNot {
				assert.NotErrorIs(t, tc.err, other)
			}
			var stopErr *StopError
			assert.ErrorAs(t, joinErrors(tc.err, &OutputError{Job: "job1"}), &stopErr)
		})
	}
}

func TestOutputErrorSaysWhichBytes(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		err  *OutputError
		want []string
	}{
		{&OutputError{Job: "j", Stream: "stdout", Problem: OutputLate, Offset: 100, Size: 20},
			[]string{"job j: job output incomplete", "the writer missed 20 bytes of stdout from byte 100 on (the Result has them)", "WithLogDriver"}},
		{&OutputError{Job: "j", Stream: "stderr", Problem: OutputRepeated, Offset: 5, Size: 7},
			[]string{"the writer got 7 bytes of stderr from byte 5 on twice"}},
		{&OutputError{Job: "j", Stream: "stdout", Problem: OutputUnchecked, Size: 4096, Before: at},
			[]string{"rotated the start of the job's log away", "what stdout logged before 2026-12-01T15:00:00Z could not be checked", "its first 4096 bytes", "more may be lost"}},
		{&OutputError{Job: "j", Stream: "stdout", Problem: OutputUnchecked, Size: 10, Before: at, After: at.Add(-time.Minute)},
			[]string{"what it logged after 2026-12-01T14:59:00Z is lost"}},
		{&OutputError{Job: "j", Stream: "stdout", Problem: OutputLost, Offset: 9, Size: -1, Err: errors.New("EOF")},
			[]string{"an unknown number of bytes of stdout from byte 9 on are lost: EOF"}},
		{&OutputError{Job: "j", Stream: "stderr", Problem: OutputWriterFailed, Offset: 3, Size: -1, Err: errors.New("broken pipe")},
			[]string{"the stderr writer failed after 3 bytes", "broken pipe"}},
	}
	for _, tc := range cases {
		for _, want := range tc.want {
			assert.Contains(t, tc.err.Error(), want)
		}
		assert.ErrorIs(t, tc.err, ErrOutputIncomplete)
		if tc.err.Err != nil {
			assert.ErrorIs(t, tc.err, tc.err.Err)
		}
	}
}
