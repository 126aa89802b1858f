package jobexit

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// Interrupted is the cause of a context cancelled by a signal: the one
// InterruptContext returns.
type Interrupted struct{ Signal syscall.Signal }

// Error names the signal, e.g. "interrupted by SIGINT".
func (e Interrupted) Error() string {
	return "interrupted by " + map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[e.Signal]
}

// ExitCode is the command's exit code after the signal, as shells report
// it: 130 for SIGINT, 143 for SIGTERM.
func (e Interrupted) ExitCode() int { return SignalBase + int(e.Signal) }

// Interruption is the signal that interrupted the command, as found in the
// first of errs that holds an Interrupted; false when none does.
func Interruption(errs ...error) (Interrupted, bool) {
	var sig Interrupted
	for _, err := range errs {
		if errors.As(err, &sig) {
			return sig, true
		}
	}
	return sig, false
}

// InterruptContext is cancelled by the first SIGINT or SIGTERM, with an
// Interrupted cause, so that Run stops the job and removes its service.
// After the first, the signals get their default action back: a second
// Ctrl-C ends the process at once. Calling stop releases the signals and
// cancels the context.
func InterruptContext() (ctx context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-signals:
			signal.Reset(syscall.SIGINT, syscall.SIGTERM)
			num, _ := sig.(syscall.Signal) // always, on Unix
			cancel(Interrupted{num})
		case <-done:
		}
	}()
	return ctx, func() { signal.Stop(signals); close(done); cancel(nil) }
}
