package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oneshot-go/oneshot"
)

// How a soak job must end, checked against what Wait returned: the
// outcome its kind says (an exit code, or which typed error), and its
// output byte for byte, in the Result and in its live writers.

// soakOutcome is what one soak job returned.
type soakOutcome struct {
	job *soakJob
	res *oneshot.Result
	err error
	// liveOut and liveErr are what its live writers got.
	liveOut, liveErr []byte
	// cancelled says its cancel came before Wait returned (soakCancel).
	cancelled bool
	took      time.Duration
	// outputBytes is how many bytes of output the Result held.
	outputBytes int
	// endedAfter is, for a job Wait gave up on, how long after Wait
	// returned its containers stopped running (-1: not within
	// soakContainersBound).
	endedAfter time.Duration
	// evidence is what the swarm and the nodes said of such a job's task
	// and containers right after Wait returned.
	evidence string
	// how says which of the outcomes its kind allows it had, problem what
	// was not as expected.
	how     string
	problem error
}

// The ways a job ended, counted per kind.
const (
	howNatural      = "natural end"
	howRaced        = "natural end, the cancel too late"
	howStoppedWhole = "stopped, whole output"
	howStoppedPart  = "stopped, part of its output"
	howStillRunning = "stopped, still running when Wait gave up"
	howNotStarted   = "stopped before it ran"
	howTaskError    = "task error"
	howStartRefused = "Start failed"
	howUnexpected   = "not as expected"
)

// The exit codes of a job stopped by SIGTERM (jobkit's own) and of one
// killed once its stop grace period was over.
const (
	sigtermExitCode = 143
	sigkillExitCode = 137
)

// check checks the outcome against the job's kind and sets how and
// problem.
func (o *soakOutcome) check() {
	j := o.job
	switch {
	case o.res == nil && o.err != nil:
		o.how, o.problem = howStartRefused, fmt.Errorf("no Result: %s", errorText(o.err))
	case j.kind == soakMissingImage:
		o.how, o.problem = howTaskError, o.checkTaskError(oneshot.ErrImageNotFound)
	case j.kind == soakUnschedulable:
		o.how, o.problem = howTaskError, o.checkTaskError(oneshot.ErrUnschedulable)
	case j.kind == soakTimeout:
		o.how, o.problem = o.checkStopped(context.DeadlineExceeded)
	case j.kind == soakCancel && o.cancelled && isStop(o.err):
		o.how, o.problem = o.checkStopped(context.Canceled)
	case j.kind == soakCancel && o.cancelled:
		o.how, o.problem = howRaced, o.checkNatural()
	default:
		o.how, o.problem = howNatural, o.checkNatural()
	}
	if o.problem != nil {
		o.how = howUnexpected
	}
}

// stillRunning says err is a *StopError for a job Wait gave up on.
func stillRunning(err error) bool {
	var stopErr *oneshot.StopError
	return errors.As(err, &stopErr) && stopErr.StillRunning
}

func isStop(err error) bool {
	var stopErr *oneshot.StopError
	return errors.As(err, &stopErr)
}

// checkNatural checks a job that ran to its end: its exit code, no
// error but an *ExitError for a non-zero code, its whole output.
func (o *soakOutcome) checkNatural() error {
	code := o.job.exitCode
	var exitErr *oneshot.ExitError
	switch {
	case code == 0 && o.err != nil:
		return fmt.Errorf("want no error (exit 0), got %s", errorText(o.err))
	case code != 0 && !errors.As(o.err, &exitErr):
		return fmt.Errorf("want an *ExitError (exit %d), got %s", code, errorText(o.err))
	case code != 0 && exitErr.ExitCode() != code:
		return fmt.Errorf("want an *ExitError of code %d, got code %d: %s", code, exitErr.ExitCode(), errorText(o.err))
	case errors.Is(o.err, oneshot.ErrOutputIncomplete):
		return fmt.Errorf("want the whole output, got %s", errorText(o.err))
	case o.res.ExitCode != code:
		return fmt.Errorf("want Result.ExitCode %d, got %d", code, o.res.ExitCode)
	}
	stdout, stderr := o.job.output()
	return errors.Join(o.sameOutput(stdout, stderr), o.cleanedUp())
}

// checkStopped checks a job stopped early for reason: a *StopError that
// matches reason and neither of the other two, the job's task ended, and
// its output (Result and live writers alike) a prefix of what it prints
// when it runs to its end, followed by jobkit's SIGTERM line when it was
// stopped by SIGTERM; whole, when it ended on its own just as it was
// stopped.
func (o *soakOutcome) checkStopped(reason error) (string, error) {
	var stopErr *oneshot.StopError
	if !errors.As(o.err, &stopErr) {
		return "", fmt.Errorf("want a *StopError matching %v, got %s", reason, errorText(o.err))
	}
	for _, r := range []error{context.Canceled, context.DeadlineExceeded, oneshot.ErrRunnerClosed} {
		if errors.Is(o.err, r) != (r == reason) {
			return "", fmt.Errorf("want a *StopError matching %v only, got %s", reason, errorText(o.err))
		}
	}
	switch {
	case errors.Is(o.err, oneshot.ErrOutputIncomplete):
		return "", fmt.Errorf("want the whole output, got %s", errorText(o.err))
	case stopErr.Result != o.res:
		return "", fmt.Errorf("the *StopError does not hold the Result")
	}
	how, err := o.stoppedOutput()
	if stopErr.StillRunning {
		// Documented: Wait gave up on the task after its stop grace period
		// and a margin (a loaded engine can take longer); what it read is
		// still checked, and the soak measures when the task did end.
		how = howStillRunning
	}
	return how, errors.Join(err, o.liveIsResult(), o.cleanedUp())
}

// stoppedOutput checks a stopped job's Result: by its exit code, what
// part of the output it must have.
func (o *soakOutcome) stoppedOutput() (string, error) {
	stdout, stderr := o.job.output()
	res := o.res
	switch code := res.ExitCode; {
	case code == -1 && stillRunning(o.err):
		// Its container may have been stopped by SIGTERM already.
		if got, ok := bytes.CutSuffix(res.Stderr, []byte(sigtermStderr)); ok {
			return prefixOutput(stdout, stderr, res.Stdout, got)
		}
		return prefixOutput(stdout, stderr, res.Stdout, res.Stderr)
	case code == -1:
		if len(res.Stdout)+len(res.Stderr) > 0 {
			return "", fmt.Errorf("no exit code, yet %d+%d bytes of output", len(res.Stdout), len(res.Stderr))
		}
		return howNotStarted, nil
	case code == sigtermExitCode:
		got, ok := bytes.CutSuffix(res.Stderr, []byte(sigtermStderr))
		if !ok {
			return "", fmt.Errorf("exit 143 (SIGTERM), yet stderr does not end with %q: %s", sigtermStderr, tail(res.Stderr))
		}
		return prefixOutput(stdout, stderr, res.Stdout, got)
	case code == sigkillExitCode:
		return prefixOutput(stdout, stderr, res.Stdout, res.Stderr)
	case o.job.kind == soakCancel && code == o.job.exitCode:
		return howStoppedWhole, o.sameOutput(stdout, stderr)
	}
	// Any other code is the container's own answer to being stopped (seen:
	// 2 from jobkit cut off while writing, 128 from a container stopped as
	// it started on Docker 26.1): the library reports it as it is; what it
	// read must still be the job's output, as far as it went.
	got, _ := bytes.CutSuffix(res.Stderr, []byte(sigtermStderr))
	return prefixOutput(stdout, stderr, res.Stdout, got)
}

// prefixOutput checks that each stream got is a prefix of the one want.
func prefixOutput(wantOut, wantErr, gotOut, gotErr []byte) (string, error) {
	if !bytes.HasPrefix(wantOut, gotOut) {
		return "", fmt.Errorf("stdout is not a prefix of the job's: %s", bytesDiff(wantOut[:min(len(wantOut), len(gotOut))], gotOut))
	}
	if !bytes.HasPrefix(wantErr, gotErr) {
		return "", fmt.Errorf("stderr is not a prefix of the job's: %s", bytesDiff(wantErr[:min(len(wantErr), len(gotErr))], gotErr))
	}
	if len(gotOut) == len(wantOut) && len(gotErr) == len(wantErr) {
		return howStoppedWhole, nil
	}
	return howStoppedPart, nil
}

// checkTaskError checks a job that could not run: a *TaskError of kind,
// no exit code, no output.
func (o *soakOutcome) checkTaskError(kind error) error {
	var taskErr *oneshot.TaskError
	switch {
	case !errors.As(o.err, &taskErr) || !errors.Is(o.err, kind):
		return fmt.Errorf("want a *TaskError matching %v, got %s", kind, errorText(o.err))
	case o.res.ExitCode != -1:
		return fmt.Errorf("want no exit code, got %d", o.res.ExitCode)
	}
	return errors.Join(o.sameOutput(nil, nil), o.cleanedUp())
}

// sameOutput checks the Result's output and the live writers' against
// what the job prints.
func (o *soakOutcome) sameOutput(stdout, stderr []byte) error {
	var errs []error
	for _, c := range []struct {
		what      string
		want, got []byte
	}{
		{"stdout", stdout, o.res.Stdout}, {"stderr", stderr, o.res.Stderr},
		{"live stdout", stdout, o.liveOut}, {"live stderr", stderr, o.liveErr},
	} {
		if !bytes.Equal(c.want, c.got) {
			errs = append(errs, fmt.Errorf("%s: %s", c.what, bytesDiff(c.want, c.got)))
		}
	}
	return errors.Join(errs...)
}

// liveIsResult checks that the live writers got what the Result holds.
func (o *soakOutcome) liveIsResult() error {
	var errs []error
	if !bytes.Equal(o.res.Stdout, o.liveOut) {
		errs = append(errs, fmt.Errorf("live stdout is not the Result's: %s", bytesDiff(o.res.Stdout, o.liveOut)))
	}
	if !bytes.Equal(o.res.Stderr, o.liveErr) {
		errs = append(errs, fmt.Errorf("live stderr is not the Result's: %s", bytesDiff(o.res.Stderr, o.liveErr)))
	}
	return errors.Join(errs...)
}

// cleanedUp checks that the job's service was removed.
func (o *soakOutcome) cleanedUp() error {
	if o.res.CleanupErr != nil {
		return fmt.Errorf("service not removed: %v", o.res.CleanupErr)
	}
	return nil
}

// bytesDiff says how got differs from want.
func bytesDiff(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	return fmt.Sprintf("%d bytes, want %d; they differ from byte %d on: got %.40q, want %.40q", len(got), len(want), i, got[i:], want[i:])
}

// tail is the end of b, quoted.
func tail(b []byte) string {
	return fmt.Sprintf("%q", b[max(0, len(b)-80):])
}

// errorText is err's type and text, cut short.
func errorText(err error) string {
	if err == nil {
		return "no error"
	}
	text := err.Error()
	if len(text) > 400 {
		text = text[:400] + "..."
	}
	return fmt.Sprintf("%T: %s", err, text)
}

// forgetOutput lets the output go once checked, keeping its size: the
// soak's outcomes would otherwise hold all of it.
func (o *soakOutcome) forgetOutput() {
	o.liveOut, o.liveErr = nil, nil
	if o.res != nil {
		o.outputBytes = len(o.res.Stdout) + len(o.res.Stderr)
		o.res.Stdout, o.res.Stderr = nil, nil
	}
}
