package jobexit

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oneshot-go/oneshot"
)

// Errors as Run returns them, for the tables below.
var (
	exit3      = &oneshot.ExitError{Result: &oneshot.Result{ExitCode: 3}}
	cleanupErr = &oneshot.CleanupError{ServiceID: "svc1", Err: errors.New("engine gone")}
	outputLost = &oneshot.OutputError{Job: "oneshot-a", Stream: "stdout", Problem: oneshot.OutputLost, Offset: 10, Size: -1}
	writerGone = &oneshot.OutputError{Job: "oneshot-a", Stream: "stderr", Problem: oneshot.OutputWriterFailed, Offset: 4, Size: -1, Err: syscall.EPIPE}
	nodeLost   = &oneshot.TaskError{Kind: oneshot.ErrNodeLost, ServiceName: "oneshot-a"}
	sigint     = Interrupted{Signal: syscall.SIGINT}
	sigterm    = Interrupted{Signal: syscall.SIGTERM}
)

// stopped is the StopError of a job stopped for reason, with the signal
// (or nil) as its cause.
func stopped(reason, cause error) *oneshot.StopError {
	return &oneshot.StopError{Job: "oneshot-a", Reason: reason, By: "the context given to Run", Cause: cause}
}

func TestStopCode(t *testing.T) {
	cases := []struct {
		name  string
		stop  *oneshot.StopError
		cause error
		want  int
	}{
		{"timeout", stopped(context.DeadlineExceeded, nil), nil, 124},
		{"timeout first, Ctrl-C after", stopped(context.DeadlineExceeded, nil), sigint, 124},
		{"Ctrl-C", stopped(context.Canceled, sigint), sigint, 130},
		{"SIGTERM", stopped(context.Canceled, sigterm), sigterm, 143},
		{"the signal known only from the context", stopped(context.Canceled, nil), sigint, 130},
		{"cancelled, no signal", stopped(context.Canceled, nil), context.Canceled, 125},
		{"Runner closed", stopped(oneshot.ErrRunnerClosed, nil), nil, 125},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, StopCode(tc.stop, tc.cause))
		})
	}
}

func TestParts(t *testing.T) {
	stop := stopped(context.Canceled, sigint)
	cases := []struct {
		name string
		err  error
		want []error
	}{
		{"nil", nil, nil},
		{"one error", exit3, []error{exit3}},
		{"a StopError is one error, not its reason and cause", stop, []error{stop}},
		{"an OutputError is one error", writerGone, []error{writerGone}},
		{"nested joins", errors.Join(exit3, errors.Join(stop, outputLost, writerGone)), []error{exit3, stop, outputLost, writerGone}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Parts(tc.err))
		})
	}
}

func TestSplitOutputErrors(t *testing.T) {
	cases := []struct {
		name                string
		err                 error
		outcome, outputErrs []error
	}{
		{"nil", nil, nil, nil},
		{"outcome only", exit3, []error{exit3}, nil},
		{"output only", outputLost, nil, []error{outputLost}},
		{"both", errors.Join(nodeLost, errors.Join(outputLost, writerGone)), []error{nodeLost}, []error{outputLost, writerGone}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outcome, output := SplitOutputErrors(tc.err)
			assert.Equal(t, tc.outcome, outcome)
			assert.Equal(t, tc.outputErrs, output)
		})
	}
}

func TestWithoutExitErrors(t *testing.T) {
	cases := []struct {
		name      string
		errs      []error
		want      []error
		wantLines []string
	}{
		{"none", nil, nil, nil},
		{"only the exit", []error{exit3}, nil, nil},
		{"the exit and another", []error{exit3, nodeLost}, []error{nodeLost}, []string{nodeLost.Error()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kept := WithoutExitErrors(tc.errs)
			assert.Equal(t, tc.want, kept)
			assert.Equal(t, tc.wantLines, Messages(kept))
		})
	}
}

func TestWarnings(t *testing.T) {
	ran := &oneshot.Result{ExitCode: 0}
	left := &oneshot.Result{ExitCode: 0, CleanupErr: cleanupErr}
	cases := []struct {
		name       string
		prefix     string
		res        *oneshot.Result
		outputErrs []error
		want       []string // a part of each
	}{
		{name: "none", prefix: "migrate: warning: ", res: ran},
		{name: "no result", prefix: "migrate: warning: ", outputErrs: []error{outputLost},
			want: []string{"migrate: warning: job oneshot-a: job output incomplete: an unknown number of bytes of stdout from byte 10 on are lost"}},
		{name: "service left", prefix: "oneshot: warning: ", res: left,
			want: []string{"oneshot: warning: remove service svc1: engine gone"}},
		{name: "output first, then the service", prefix: "migrate: warning: ", res: left, outputErrs: []error{outputLost, writerGone},
			want: []string{"migrate: warning: job oneshot-a: job output incomplete", "migrate: warning: job oneshot-a: job output incomplete: the stderr writer failed after 4 bytes",
				"migrate: warning: remove service svc1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Warnings(tc.prefix, tc.res, tc.outputErrs)
			if !assert.Len(t, got, len(tc.want), "%q", got) {
				return
			}
			for i := range tc.want {
				assert.Contains(t, got[i], tc.want[i])
			}
		})
	}
}
