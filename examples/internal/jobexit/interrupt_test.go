package jobexit

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInterrupted(t *testing.T) {
	cases := []struct {
		sig     syscall.Signal
		message string
		code    int
	}{
		{syscall.SIGINT, "interrupted by SIGINT", 130},
		{syscall.SIGTERM, "interrupted by SIGTERM", 143},
	}
	for _, tc := range cases {
		t.Run(tc.message, func(t *testing.T) {
			sig := Interrupted{Signal: tc.sig}
			assert.EqualError(t, sig, tc.message)
			assert.Equal(t, tc.code, sig.ExitCode())
		})
	}
}

func TestInterruption(t *testing.T) {
	cases := []struct {
		name string
		errs []error
		want Interrupted
		ok   bool
	}{
		{name: "none"},
		{name: "nil", errs: []error{nil}},
		{name: "not a signal", errs: []error{context.Canceled}},
		{name: "the signal", errs: []error{sigint}, want: sigint, ok: true},
		{name: "wrapped", errs: []error{fmt.Errorf("stopping: %w", sigterm)}, want: sigterm, ok: true},
		{name: "a stop's cause", errs: []error{stopped(context.Canceled, sigterm)}, want: sigterm, ok: true},
		{name: "the first that holds one", errs: []error{stopped(context.Canceled, nil), sigint, sigterm}, want: sigint, ok: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sig, ok := Interruption(tc.errs...)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, sig)
		})
	}
}

// TestInterruptContext sends the test process one signal at a time: the
// context catches it, so that the process lives on.
func TestInterruptContext(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, stop := InterruptContext()
			defer stop()
			require.NoError(t, syscall.Kill(syscall.Getpid(), sig))
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the signal did not cancel the context")
			}
			assert.Equal(t, Interrupted{Signal: sig}, context.Cause(ctx))
			assert.ErrorIs(t, ctx.Err(), context.Canceled)
		})
	}
}

func TestInterruptContextStop(t *testing.T) {
	ctx, stop := InterruptContext()
	stop()
	assert.ErrorIs(t, context.Cause(ctx), context.Canceled)
	_, interrupted := Interruption(context.Cause(ctx))
	assert.False(t, interrupted)
}
