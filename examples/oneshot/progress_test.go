package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/oneshot-go/oneshot"
)

func TestProgressLine(t *testing.T) {
	cases := []struct {
		status oneshot.TaskStatus
		want   string
	}{
		{oneshot.TaskStatus{TaskID: "w13l7a9u581exyz", Attempt: 1, State: oneshot.StatePending},
			"oneshot: task w13l7a9u581e pending (0.25s)"},
		{oneshot.TaskStatus{TaskID: "w13l7a9u581e", Attempt: 1, State: oneshot.StateRunning, NodeName: "vm"},
			"oneshot: task w13l7a9u581e running on vm (0.25s)"},
		{oneshot.TaskStatus{TaskID: "w13l7a9u581e", Attempt: 2, State: oneshot.StateFailed, NodeName: "vm", Err: "task: non-zero exit (3)"},
			"oneshot: task w13l7a9u581e failed on vm (attempt 2): task: non-zero exit (3) (0.25s)"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, progressLine(tc.status, 250*time.Millisecond, false))
	}
}

func TestSummaryLine(t *testing.T) {
	res := &oneshot.Result{ServiceName: "oneshot-a", ExitCode: 3}
	assert.Equal(t, "oneshot: job oneshot-a exited with code 3 after 1.50s; service removed", summaryLine(res, false, 1500*time.Millisecond))
	assert.Contains(t, summaryLine(res, true, time.Second), "service kept")
}

func TestSummaryLineOfAServiceLeftBehind(t *testing.T) {
	res := &oneshot.Result{ServiceName: "oneshot-a", ExitCode: 0, CleanupErr: &oneshot.CleanupError{ServiceID: "svc1", Err: errors.New("engine gone")}}
	assert.Equal(t, "oneshot: job oneshot-a exited with code 0 after 1.00s; service not removed", summaryLine(res, false, time.Second))
}
