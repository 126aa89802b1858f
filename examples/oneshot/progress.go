package main

import (
	"fmt"
	"time"

	"github.com/oneshot-go/oneshot"
)

// progressPrinter returns the status function that prints each state change
// of the job's task as a line of its own on the console, marked "oneshot:"
// and timed from start; for a job of several tasks (many), after the
// task's index as its output lines have it:
//
//	oneshot: task w13l7a9u581e running on vm (0.48s)
//	oneshot: [3] task w13l7a9u581e running on vm (0.48s)
func progressPrinter(con *console, start time.Time, many bool) func(oneshot.TaskStatus) {
	return func(s oneshot.TaskStatus) {
		con.Println(progressLine(s, time.Since(start), many))
	}
}

// progressLine is the line that tells of one state change, elapsed after
// the command started; many names the task's index.
func progressLine(s oneshot.TaskStatus, elapsed time.Duration, many bool) string {
	line := "oneshot: "
	if many {
		line += fmt.Sprintf("[%d] ", s.TaskIndex)
	}
	line += fmt.Sprintf("task %.12s %s", s.TaskID, s.State)
	if s.NodeName != "" {
		line += " on " + s.NodeName
	}
	if s.Attempt > 1 {
		line += fmt.Sprintf(" (attempt %d)", s.Attempt)
	}
	if s.Err != "" {
		line += ": " + s.Err
	}
	return line + fmt.Sprintf(" (%.2fs)", elapsed.Seconds())
}

// summaryLine is the progress line that ends a run whose job exited: its
// exit code, how long it all took, and what became of its service (a
// warning says why one that should have gone is still there).
func summaryLine(res *oneshot.Result, kept bool, elapsed time.Duration) string {
	fate := "service removed"
	switch {
	case kept:
		fate = "service kept ('oneshot prune' removes it)"
	case res.CleanupErr != nil:
		fate = "service not removed"
	}
	return fmt.Sprintf("oneshot: job %s exited with code %d after %.2fs; %s", res.ServiceName, res.ExitCode, elapsed.Seconds(), fate)
}
