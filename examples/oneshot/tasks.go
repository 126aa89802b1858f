package main

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/oneshot-go/oneshot"
)

// A job of several tasks is one run with --tasks N (N above 1) or
// --global: the library runs each task as a job of one task and sums
// their results up (Result.Tasks). The command streams their output with
// each line after its task's "[INDEX] " (--task-prefix, on by default),
// names the task in each progress line, prints a table of the tasks at
// the end (tasktable.go), gives each task's result in the JSON, and exits
// with the code of the first task that failed (outcome.go).

// taskOptions are --tasks, --parallelism, --global, --fail-fast and the
// prefix flags; the values that make no sense are refused by flag.
func (f *runFlags) taskOptions() ([]oneshot.Option, error) {
	switch {
	case f.gave("tasks") && f.tasks < 1:
		return nil, flagError("--tasks", strconv.Itoa(f.tasks), errors.New("want 1 or more tasks"))
	case f.parallelism < 0:
		return nil, flagError("--parallelism", strconv.Itoa(f.parallelism), errors.New("want 1 or more, or 0 to run all the tasks at once"))
	case f.global && f.gave("tasks"):
		return nil, errors.New("--tasks and --global do not go together: a global job runs one task on each node that matches its constraints")
	case f.prefix && f.noPrefix:
		return nil, errors.New("--task-prefix and --no-task-prefix do not go together: give one of them")
	}
	var opts []oneshot.Option
	if f.tasks > 0 {
		opts = append(opts, oneshot.WithTasks(f.tasks))
	}
	if f.parallelism > 0 {
		opts = append(opts, oneshot.WithParallelism(f.parallelism))
	}
	if f.global {
		opts = append(opts, oneshot.WithGlobal())
	}
	if f.failFast {
		opts = append(opts, oneshot.WithFailFast())
	}
	if f.taskPrefix() {
		opts = append(opts, oneshot.WithTaskPrefix())
	}
	return opts, nil
}

// manyTasks says the job is one of several tasks: --tasks above 1, or
// --global (whose count the nodes make when it starts, one or more).
func (f *runFlags) manyTasks() bool { return f.tasks > 1 || f.global }

// taskPrefix says whether the tasks' lines start with "[INDEX] ": as asked,
// else for a job of several tasks.
func (f *runFlags) taskPrefix() bool {
	switch {
	case f.noPrefix:
		return false
	case f.prefix:
		return true
	}
	return f.manyTasks()
}

// nodeNames remembers the name of each node that the job's tasks went
// to, from their state changes: the Result has the nodes' IDs only.
type nodeNames struct {
	mu    sync.Mutex
	names map[string]string // node ID -> name
}

func newNodeNames() *nodeNames { return &nodeNames{names: map[string]string{}} }

// note remembers the node of a state change, if it says one.
func (n *nodeNames) note(s oneshot.TaskStatus) {
	if s.NodeID == "" || s.NodeName == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.names[s.NodeID] = s.NodeName
}

// name is the node's name, or the start of its ID when its name is not
// known; "-" for none.
func (n *nodeNames) name(id string) string {
	switch {
	case id == "":
		return "-"
	case n.known(id) != "":
		return n.known(id)
	}
	return fmt.Sprintf("%.12s", id)
}

// known is the node's name, empty when it is not known.
func (n *nodeNames) known(id string) string {
	if n == nil {
		return ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.names[id]
}

// statusFunc is the job's OnStatus: it notes the nodes of a job of
// several tasks (nodes, when not nil) and prints the progress lines (show,
// when not nil); nil when it has nothing to do.
func statusFunc(nodes *nodeNames, show func(oneshot.TaskStatus)) func(oneshot.TaskStatus) {
	switch {
	case nodes == nil:
		return show
	case show == nil:
		return nodes.note
	}
	return func(s oneshot.TaskStatus) {
		nodes.note(s)
		show(s)
	}
}
