package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oneshot-go/oneshot"
)

func TestDecide(t *testing.T) {
	exited := &oneshot.Result{ExitCode: 3, ServiceName: "oneshot-a", State: oneshot.StateFailed}
	ok := &oneshot.Result{ExitCode: 0, ServiceName: "oneshot-a", State: oneshot.StateComplete}
	stopped := &oneshot.Result{ExitCode: -1, ServiceName: "oneshot-a", State: oneshot.StateRunning}
	cleanup := &oneshot.CleanupError{ServiceID: "svc1", Err: errors.New("engine gone")}
	sigint := errInterrupted{syscall.SIGINT}
	cases := []struct {
		name    string
		res     *oneshot.Result
		err     error
		cause   error
		kept    bool
		code    int
		message string // a part of it
		exited  bool
	}{
		{name: "success", res: ok, code: 0, exited: true},
		{name: "exit code", res: exited, err: &oneshot.ExitError{Result: exited}, code: 3, exited: true},
		{name: "exit code, service left", res: exited, err: errors.Join(&oneshot.ExitError{Result: exited}, cleanup), code: 3, message: "docker service rm svc1"},
		{name: "success, service left", res: ok, err: cleanup, code: 0, message: "docker service rm svc1"},
		{name: "success, logs not read", res: ok, err: errors.New("oneshot: read the logs of job oneshot-a: EOF"), code: 0, message: "read the logs", exited: true},
		{name: "exit code, logs not read", res: exited, err: errors.Join(&oneshot.ExitError{Result: exited}, errors.New("oneshot: read the logs")), code: 3, message: "read the logs", exited: true},
		{name: "spec", err: &oneshot.SpecError{Field: "Image", Problem: "empty"}, code: 125, message: "JobSpec.Image"},
		{name: "image", res: stopped, err: &oneshot.TaskError{Kind: oneshot.ErrImageNotFound, ServiceName: "oneshot-a"}, code: 125, message: "image not found"},
		{name: "not a manager", err: fmt.Errorf("oneshot: create: %w", oneshot.ErrNotSwarmManager), code: 125, message: "swarm manager"},
		{name: "timeout", res: stopped, err: fmt.Errorf("oneshot: job: %w", context.DeadlineExceeded), code: 124, message: "deadline"},
		{name: "Ctrl-C", res: stopped, err: context.Canceled, cause: sigint, code: 130, message: "service oneshot-a removed"},
		{name: "Ctrl-C, kept", res: stopped, err: context.Canceled, cause: sigint, kept: true, code: 130, message: "kept"},
		{name: "Ctrl-C before start", err: context.Canceled, cause: sigint, code: 130, message: "nothing was left"},
		{name: "Ctrl-C, service left", res: stopped, err: errors.Join(context.Canceled, cleanup), cause: sigint, code: 130, message: "docker service rm svc1"},
		{name: "SIGTERM", res: stopped, err: context.Canceled, cause: errInterrupted{syscall.SIGTERM}, code: 143, message: "SIGTERM"},
		{name: "Ctrl-C after the exit", res: exited, err: &oneshot.ExitError{Result: exited}, cause: sigint, code: 3, exited: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := decide(tc.res, tc.err, tc.cause, tc.kept)
			assert.Equal(t, tc.code, o.code)
			assert.Equal(t, tc.exited, o.exited)
			if tc.message == "" {
				assert.Empty(t, o.message)
			} else {
				assert.Contains(t, o.message, tc.message)
			}
		})
	}
}
