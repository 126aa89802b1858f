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

func TestDecide(t *testing.T) {
	applied := &oneshot.Result{ExitCode: 0, ServiceName: "oneshot-m", State: oneshot.StateComplete}
	failed := &oneshot.Result{ExitCode: 1, ServiceName: "oneshot-m", State: oneshot.StateFailed}
	cleanup := &oneshot.CleanupError{ServiceID: "svc1", Err: errors.New("engine gone")}
	appliedLeft := &oneshot.Result{ExitCode: 0, ServiceName: "oneshot-m", State: oneshot.StateComplete, CleanupErr: cleanup}
	stopped := &oneshot.Result{ExitCode: 143, ServiceName: "oneshot-m", State: oneshot.StateShutdown, StartedAt: time.Unix(1, 0)}
	outputLost := &oneshot.OutputError{Job: "oneshot-m", Stream: "stdout", Problem: oneshot.OutputLost, Offset: 10, Size: -1}
	sigint, sigterm := jobexit.Interrupted{Signal: syscall.SIGINT}, jobexit.Interrupted{Signal: syscall.SIGTERM}
	timedOut := &oneshot.StopError{Job: "oneshot-m", Reason: context.DeadlineExceeded, By: "its timeout of 10m0s", Result: stopped}
	interrupted := func(sig jobexit.Interrupted) error {
		return &oneshot.StopError{Job: "oneshot-m", Reason: context.Canceled, By: "the context given to Run", Cause: sig, Result: stopped}
	}
	cases := []struct {
		name  string
		res   *oneshot.Result
		err   error
		cause error
		code  int
		lines []string // a part of each
	}{
		{name: "applied", res: applied, code: 0},
		{name: "a migration failed", res: failed, err: &oneshot.ExitError{Result: failed}, code: 1},
		{name: "applied, output lost", res: applied, err: outputLost, code: 0,
			lines: []string{"migrate: warning: job oneshot-m: job output incomplete"}},
		{name: "failed, output lost", res: failed, err: errors.Join(&oneshot.ExitError{Result: failed}, outputLost), code: 1,
			lines: []string{"migrate: warning: job oneshot-m: job output incomplete"}},
		{name: "applied, service left", res: appliedLeft, code: 0,
			lines: []string{"migrate: warning: remove service svc1: engine gone"}},
		{name: "timeout", res: stopped, err: timedOut, code: 124, lines: []string{"its timeout of 10m0s expired; it exited with code 143"}},
		{name: "Ctrl-C", res: stopped, err: interrupted(sigint), cause: sigint, code: 130, lines: []string{"interrupted by SIGINT"}},
		{name: "SIGTERM", res: stopped, err: interrupted(sigterm), cause: sigterm, code: 143, lines: []string{"interrupted by SIGTERM"}},
		{name: "Ctrl-C, output lost", res: stopped, err: errors.Join(interrupted(sigint), outputLost), cause: sigint, code: 130,
			lines: []string{"interrupted by SIGINT", "migrate: warning: job oneshot-m: job output incomplete"}},
		{name: "Ctrl-C before the job started", err: fmt.Errorf("oneshot: job oneshot-m not started: %w", context.Canceled), cause: sigint, code: 130,
			lines: []string{"migrate: interrupted by SIGINT before the migration job started"}},
		{name: "Ctrl-C after the job exited", res: failed, err: &oneshot.ExitError{Result: failed}, cause: sigint, code: 1},
		{name: "unknown secret", err: &oneshot.SpecError{Field: "Secrets[0].Name", Problem: "no secret named \"pw\""}, code: 125,
			lines: []string{`no secret named "pw"`}},
		{name: "image not found", res: &oneshot.Result{ExitCode: -1, ServiceName: "oneshot-m"},
			err: &oneshot.TaskError{Kind: oneshot.ErrImageNotFound, ServiceName: "oneshot-m"}, code: 125, lines: []string{"image not found"}},
		{name: "node lost, output lost", res: &oneshot.Result{ExitCode: -1, ServiceName: "oneshot-m"},
			err:  errors.Join(&oneshot.TaskError{Kind: oneshot.ErrNodeLost, ServiceName: "oneshot-m"}, outputLost),
			code: 125, lines: []string{"node lost", "migrate: warning: job oneshot-m: job output incomplete"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := decide(tc.res, tc.err, tc.cause)
			assert.Equal(t, tc.code, o.code)
			if !assert.Len(t, o.lines, len(tc.lines), "%q", o.lines) {
				return
			}
			for i := range tc.lines {
				assert.Contains(t, o.lines[i], tc.lines[i])
			}
		})
	}
}
