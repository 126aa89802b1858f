package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

// How each task of a job of several tasks ended, as the table counts them.
const (
	taskSucceeded  = "succeeded"
	taskFailed     = "failed"
	taskStopped    = "stopped"
	taskNotStarted = "not started"
)

// taskEnd says how a task ended: it succeeded (exit code 0, whatever
// became of its output), failed (a non-zero code, or no code), was stopped
// (by --timeout, Ctrl-C or --fail-fast), or never started (the job was
// stopped before its turn came).
func taskEnd(t oneshot.TaskResult) string {
	var stop *oneshot.StopError
	switch {
	case errors.As(t.Err, &stop) && t.State == "" && len(t.History) == 0:
		return taskNotStarted
	case errors.As(t.Err, &stop):
		return taskStopped
	case t.ExitCode != 0 || len(taskOutcomeErrors(t)) > 0:
		return taskFailed
	}
	return taskSucceeded
}

// taskOutcomeErrors are the parts of the task's error that say how it
// ended: all but the problems with its output, which only warn.
func taskOutcomeErrors(t oneshot.TaskResult) []error {
	outcome, _ := jobexit.SplitOutputErrors(t.Err)
	return outcome
}

// stoppedByFailFast says the task was stopped, or never started, because
// another failed and the job runs with --fail-fast: its failure is not its
// own.
func stoppedByFailFast(t oneshot.TaskResult) bool {
	var stop *oneshot.StopError
	return errors.As(t.Err, &stop) && errors.Is(stop.Reason, oneshot.ErrTaskFailed)
}

// firstOwnFailure is the index of the first task, by index, that did not
// succeed of its own: -1 when all succeeded. A task that --fail-fast
// stopped is skipped: the task whose failure stopped it comes later (and
// should none have failed of its own, the first that did not succeed).
func firstOwnFailure(tasks []oneshot.TaskResult) int {
	first := -1
	for i, t := range tasks {
		switch {
		case taskEnd(t) == taskSucceeded:
		case !stoppedByFailFast(t):
			return i
		case first < 0:
			first = i
		}
	}
	return first
}

// anyTaskFailed says some task did not succeed.
func anyTaskFailed(tasks []oneshot.TaskResult) bool {
	for _, t := range tasks {
		if taskEnd(t) != taskSucceeded {
			return true
		}
	}
	return false
}

// taskTable is what the command prints on stderr at the end of a job of
// several tasks: a line that sums them up, then one line per task (its
// index, node, state, exit code, time, attempts and, for one that did not
// succeed, why in a few words: the ERROR column is left out when none has
// an error), indented:
//
//	oneshot: job oneshot-3f2a9c0e1b7d: 4 tasks after 5.21s: 3 succeeded, 1 failed; services removed
//	  TASK  NODE  STATE     EXIT  TIME   ATTEMPTS  ERROR
//	  0     vm    complete  0     1.02s  1
//	  1     vm    failed    3     0.98s  1         no such file: /data/1
func taskTable(res *oneshot.Result, nodes *nodeNames, kept bool, elapsed time.Duration) []string {
	lines := []string{fmt.Sprintf("oneshot: job %s: %d tasks after %.2fs: %s; %s", res.ServiceName, len(res.Tasks), elapsed.Seconds(),
		taskCounts(res.Tasks), servicesFate(res, kept))}
	errs, anyErr := make([]string, len(res.Tasks)), false
	for i, t := range res.Tasks {
		errs[i] = shortTaskError(t)
		anyErr = anyErr || errs[i] != ""
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	header := "  TASK\tNODE\tSTATE\tEXIT\tTIME\tATTEMPTS"
	if anyErr {
		header += "\tERROR"
	}
	fmt.Fprintln(tw, header)
	for i, t := range res.Tasks {
		row := fmt.Sprintf("  %d\t%s\t%s\t%s\t%s\t%d", t.Index, nodes.name(t.NodeID), taskState(t), exitCode(t.ExitCode),
			taskDuration(t), len(t.History))
		if anyErr {
			row += "\t" + errs[i]
		}
		fmt.Fprintln(tw, row)
	}
	_ = tw.Flush() // a strings.Builder does not fail
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		lines = append(lines, strings.TrimRight(line, " "))
	}
	return lines
}

// taskCounts says how many tasks ended each way: "3 succeeded, 1 failed";
// the ways no task ended are left out, but for "0 succeeded".
func taskCounts(tasks []oneshot.TaskResult) string {
	counts := map[string]int{}
	for _, t := range tasks {
		counts[taskEnd(t)]++
	}
	parts := []string{fmt.Sprintf("%d %s", counts[taskSucceeded], taskSucceeded)}
	for _, end := range []string{taskFailed, taskStopped, taskNotStarted} {
		if counts[end] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[end], end))
		}
	}
	return strings.Join(parts, ", ")
}

// servicesFate says what became of the tasks' services.
func servicesFate(res *oneshot.Result, kept bool) string {
	switch {
	case kept:
		return "services kept ('oneshot prune' removes them)"
	case res.CleanupErr != nil:
		return "services not all removed"
	}
	return "services removed"
}

// taskState is the task's final state, "not started" when it had none.
func taskState(t oneshot.TaskResult) string {
	if t.State == "" {
		return taskNotStarted
	}
	return string(t.State)
}

// exitCode is an exit code for the table: "-" for none.
func exitCode(code int) string {
	if code < 0 {
		return "-"
	}
	return fmt.Sprint(code)
}

// taskDuration is how long the task ran, "-" when it is not known.
func taskDuration(t oneshot.TaskResult) string {
	if t.StartedAt.IsZero() || t.FinishedAt.Before(t.StartedAt) {
		return "-"
	}
	return fmt.Sprintf("%.2fs", t.FinishedAt.Sub(t.StartedAt).Seconds())
}

// maxErrorWidth bounds the ERROR column, in characters: the messages that
// follow the table and the JSON have the whole of each error.
const maxErrorWidth = 72

// shortTaskError says in a few words why the task did not succeed, or
// what went wrong around it; empty when nothing did.
func shortTaskError(t oneshot.TaskResult) string {
	var parts []string
	for _, e := range jobexit.Parts(t.Err) {
		if s := shortError(e); s != "" {
			parts = append(parts, s)
		}
	}
	return truncate(strings.Join(parts, "; "), maxErrorWidth)
}

// shortError is one error of a task in a few words: the last line the task
// wrote on stderr for an exit code (the EXIT column has the code), the
// kind and the swarm's words for a task that got no exit code, what
// stopped it, or the first line of any other error.
func shortError(e error) string {
	var exit *oneshot.ExitError
	var stop *oneshot.StopError
	var task *oneshot.TaskError
	var out *oneshot.OutputError
	switch {
	case errors.As(e, &exit):
		return lastLine(exit.Stderr)
	case errors.As(e, &stop):
		return shortStop(stop)
	case errors.As(e, &task):
		detail := task.Err
		if detail == "" {
			detail = task.Message
		}
		if detail == "" {
			return task.Kind.Error()
		}
		return task.Kind.Error() + ": " + detail
	case errors.As(e, &out):
		return "output incomplete (see the warnings)"
	}
	return firstLine(strings.TrimPrefix(optionFlags.Replace(e.Error()), "oneshot: "))
}

// shortStop says what stopped a task: --fail-fast and the task that
// failed, the job's timeout, a signal.
func shortStop(stop *oneshot.StopError) string {
	var why string
	sig, interrupted := jobexit.Interruption(stop)
	switch {
	case errors.Is(stop.Reason, oneshot.ErrTaskFailed):
		why = "stopped by --fail-fast: " + strings.TrimSuffix(stop.By, " of its job failed (WithFailFast)") + " failed"
	case errors.Is(stop.Reason, context.DeadlineExceeded):
		why = "stopped: " + strings.TrimPrefix(stop.By, "its ") + " expired"
	case interrupted:
		why = "stopped: " + sig.Error()
	case errors.Is(stop.Reason, oneshot.ErrRunnerClosed):
		why = "stopped: its Runner was closed"
	default:
		why = "stopped: " + stop.By + " is done"
	}
	if stop.StillRunning {
		why += "; it may still be running"
	}
	return why
}

// lastLine is the last line of b that is not empty.
func lastLine(b []byte) string {
	s := strings.TrimRight(string(b), "\r\n")
	return strings.TrimSpace(s[strings.LastIndexByte(s, '\n')+1:])
}

// firstLine is s up to its first line end.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// truncate cuts s to max characters, the last an ellipsis.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max-1]) + "…"
}

// jsonTask is a task's result in --json's "Tasks": the TaskResult's
// fields by their names, the output as text, the node's name when known,
// times left out when unknown, and the error's message.
type jsonTask struct {
	Index             int
	NodeID, NodeName  string            `json:",omitempty"`
	TaskID, ServiceID string            `json:",omitempty"`
	State             oneshot.TaskState `json:",omitempty"`
	ExitCode          int
	Stdout, Stderr    string
	StartedAt         time.Time     `json:",omitzero"`
	FinishedAt        time.Time     `json:",omitzero"`
	History           []jsonAttempt `json:",omitempty"`
	Error             string        `json:",omitempty"`
}

// jsonAttempt is one attempt of a task (one more per retry).
type jsonAttempt struct {
	TaskID, NodeID string `json:",omitempty"`
	ExitCode       int
	State          oneshot.TaskState `json:",omitempty"`
	Message, Err   string            `json:",omitempty"`
	CreatedAt      time.Time         `json:",omitzero"`
	FinishedAt     time.Time         `json:",omitzero"`
}

// jsonTasks are the tasks of res for --json.
func jsonTasks(res *oneshot.Result, nodes *nodeNames) []jsonTask {
	if res == nil {
		return nil
	}
	out := make([]jsonTask, 0, len(res.Tasks))
	for _, t := range res.Tasks {
		jt := jsonTask{Index: t.Index, NodeID: t.NodeID, TaskID: t.TaskID, ServiceID: t.ServiceID, State: t.State,
			ExitCode: t.ExitCode, Stdout: string(t.Stdout), Stderr: string(t.Stderr), StartedAt: t.StartedAt, FinishedAt: t.FinishedAt}
		jt.NodeName = nodes.known(t.NodeID)
		for _, a := range t.History {
			jt.History = append(jt.History, jsonAttempt{TaskID: a.TaskID, NodeID: a.NodeID, ExitCode: a.ExitCode, State: a.State,
				Message: a.Message, Err: a.Err, CreatedAt: a.CreatedAt, FinishedAt: a.FinishedAt})
		}
		if t.Err != nil {
			jt.Error = t.Err.Error()
		}
		out = append(out, jt)
	}
	return out
}
