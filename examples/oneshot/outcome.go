package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/oneshot-go/oneshot"
)

// Exit codes of `oneshot run` itself, besides the job's own.
const (
	// exitNotRun means oneshot could not run the job, as with docker run.
	exitNotRun = 125
	// exitTimeout means --timeout expired, as with timeout(1).
	exitTimeout = 124
	// exitSignalBase plus the signal's number means the user stopped the
	// job (130 for Ctrl-C, 143 for SIGTERM), as shells report it.
	exitSignalBase = 128
)

// outcome is how `oneshot run` ends.
type outcome struct {
	// code is the exit code.
	code int
	// message, if set, is printed on stderr: the library's error, which
	// says what to do.
	message string
	// exited says the job ran to an exit code of its own, and its service
	// is gone (or kept, as asked).
	exited bool
}

// decide maps Run's result and error to the command's outcome; cause is
// why the command's context was cancelled, if it was; kept says --keep.
// A job that exited gives its own exit code, whatever else went wrong (its
// output not wholly read, its service not removed): that is printed.
func decide(res *oneshot.Result, err error, cause error, kept bool) outcome {
	var cleanupErr *oneshot.CleanupError
	var interrupted errInterrupted
	switch {
	case err == nil:
		return outcome{code: 0, exited: true}
	case res != nil && res.ExitCode >= 0:
		return outcome{code: res.ExitCode, message: besidesExit(err), exited: !errors.As(err, &cleanupErr)}
	case errors.Is(err, context.Canceled) && errors.As(cause, &interrupted):
		return outcome{code: exitSignalBase + int(interrupted.sig), message: interruptedMessage(interrupted, res, err, kept)}
	case errors.Is(err, context.DeadlineExceeded):
		return outcome{code: exitTimeout, message: err.Error()}
	}
	return outcome{code: exitNotRun, message: err.Error()}
}

// besidesExit is the message of err without its *ExitError, which needs no
// words (the exit code says it), one error a line.
func besidesExit(err error) string {
	var lines []string
	for _, e := range flatten(err) {
		var exitErr *oneshot.ExitError
		if !errors.As(e, &exitErr) {
			lines = append(lines, e.Error())
		}
	}
	return strings.Join(lines, "\n")
}

// flatten returns the errors that errors.Join put together in err, or err.
func flatten(err error) []error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// interruptedMessage says what became of a job stopped by a signal.
func interruptedMessage(sig errInterrupted, res *oneshot.Result, err error, kept bool) string {
	var cleanupErr *oneshot.CleanupError
	switch {
	case errors.As(err, &cleanupErr):
		return fmt.Sprintf("oneshot: %v; the job was stopped, but: %v", sig, cleanupErr)
	case res == nil:
		return fmt.Sprintf("oneshot: %v before the job started; nothing was left on the swarm", sig)
	case kept:
		return fmt.Sprintf("oneshot: %v; the job was stopped and its service %s kept ('oneshot prune' removes it)", sig, res.ServiceName)
	}
	return fmt.Sprintf("oneshot: %v; the job was stopped and its service %s removed", sig, res.ServiceName)
}

// errInterrupted is the cause of a context cancelled by a signal.
type errInterrupted struct{ sig syscall.Signal }

// Error names the signal, e.g. "interrupted by SIGINT".
func (e errInterrupted) Error() string {
	return "interrupted by " + map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[e.sig]
}
