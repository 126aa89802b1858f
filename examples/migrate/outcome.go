package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

// outcome is how migrate ends after running the job.
type outcome struct {
	// code is the exit code.
	code int
	// lines are printed on stderr: what went wrong, then the warnings
	// (output that did not come whole, a service left on the swarm),
	// which never change the code.
	lines []string
}

// decide maps the job's result and error to migrate's outcome; cause is
// why migrate's context was cancelled, if it was. A job that ran to an exit
// code of its own gives that code, whatever else went wrong around it; a
// job stopped early gives 124 (--timeout) or 128 plus the signal; a job
// that could not run gives 125.
func decide(res *oneshot.Result, err error, cause error) outcome {
	outcomeErrs, outputErrs := jobexit.SplitOutputErrors(err)
	var o outcome
	var stop *oneshot.StopError
	var sig jobexit.Interrupted
	switch {
	case errors.As(err, &stop):
		o.code = jobexit.StopCode(stop, cause)
		o.lines = jobexit.Messages(outcomeErrs)
	case res != nil && res.ExitCode >= 0:
		o.code = res.ExitCode
		o.lines = jobexit.Messages(jobexit.WithoutExitErrors(outcomeErrs))
	case errors.Is(err, context.Canceled) && errors.As(cause, &sig):
		o.code = sig.ExitCode()
		o.lines = []string{fmt.Sprintf("migrate: %v before the migration job started", sig)}
	case err != nil:
		o.code = jobexit.NotRun
		o.lines = jobexit.Messages(outcomeErrs)
	}
	o.lines = append(o.lines, jobexit.Warnings("migrate: warning: ", res, outputErrs)...)
	return o
}
