package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// taskSpec is the spec that the flags args make of IMAGE app:v1, through
// `oneshot run` or `oneshot stack run`.
func taskSpec(t *testing.T, stack bool, args ...string) (oneshot.JobSpec, *runFlags, error) {
	t.Helper()
	var f *runFlags
	var err error
	if stack {
		f, err = parseStackRunFlags(append(args, "app", "web"))
	} else {
		f, err = parseRunFlags(append(args, "app:v1"))
	}
	if err != nil {
		return oneshot.JobSpec{}, nil, err
	}
	opts, err := f.options()
	if err != nil {
		return oneshot.JobSpec{}, f, err
	}
	spec := f.jobBase(oneshot.JobSpec{Image: "app:v1"})
	for _, o := range opts {
		require.NoError(t, o(&spec))
	}
	return spec, f, nil
}

func TestTaskFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		// want holds the spec's Tasks, Parallelism, Global, FailFast and
		// TaskPrefix; many says a job of several tasks.
		want oneshot.JobSpec
		many bool
	}{
		{name: "none", want: oneshot.JobSpec{}},
		{name: "tasks", args: []string{"--tasks", "4"}, want: oneshot.JobSpec{Tasks: 4, TaskPrefix: true}, many: true},
		{name: "one task: no prefix", args: []string{"--tasks", "1"}, want: oneshot.JobSpec{Tasks: 1}},
		{name: "parallelism and fail-fast", args: []string{"--tasks", "10", "--parallelism", "3", "--fail-fast"},
			want: oneshot.JobSpec{Tasks: 10, Parallelism: 3, FailFast: true, TaskPrefix: true}, many: true},
		{name: "parallelism 0: all at once", args: []string{"--tasks", "2", "--parallelism", "0"}, want: oneshot.JobSpec{Tasks: 2, TaskPrefix: true}, many: true},
		{name: "global", args: []string{"--global", "--constraint", "node.role==worker"},
			want: oneshot.JobSpec{Global: true, TaskPrefix: true, Constraints: []string{"node.role==worker"}}, many: true},
		{name: "no prefix", args: []string{"--tasks", "4", "--no-task-prefix"}, want: oneshot.JobSpec{Tasks: 4}, many: true},
		{name: "prefix asked for", args: []string{"-tasks=3", "-task-prefix"}, want: oneshot.JobSpec{Tasks: 3, TaskPrefix: true}, many: true},
		{name: "prefix for one task: nothing to prefix", args: []string{"--task-prefix"}, want: oneshot.JobSpec{TaskPrefix: true}},
	}
	for _, tc := range cases {
		for _, stack := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{true: " (stack run)"}[stack], func(t *testing.T) {
				spec, f, err := taskSpec(t, stack, tc.args...)
				require.NoError(t, err)
				require.NoError(t, spec.Validate())
				got := oneshot.JobSpec{Tasks: spec.Tasks, Parallelism: spec.Parallelism, Global: spec.Global, FailFast: spec.FailFast,
					TaskPrefix: spec.TaskPrefix, Constraints: spec.Constraints}
				assert.Equal(t, tc.want, got)
				assert.Equal(t, tc.many, f.manyTasks())
			})
		}
	}
}

func TestTaskFlagsRefused(t *testing.T) {
	cases := []struct {
		args []string
		err  string
	}{
		{[]string{"--tasks", "0"}, `--tasks "0": want 1 or more tasks`},
		{[]string{"--tasks", "-2"}, `--tasks "-2": want 1 or more tasks`},
		{[]string{"--tasks", "many"}, `invalid value "many" for flag -tasks`},
		{[]string{"--tasks", "4", "--parallelism", "-1"}, `--parallelism "-1": want 1 or more, or 0`},
		{[]string{"--global", "--tasks", "3"}, "--tasks and --global do not go together"},
		{[]string{"--tasks", "2", "--task-prefix", "--no-task-prefix"}, "--task-prefix and --no-task-prefix do not go together"},
	}
	for _, tc := range cases {
		_, _, err := taskSpec(t, false, tc.args...)
		assert.ErrorContains(t, err, tc.err, tc.args)
	}
}

func TestTaskSpecErrorsNameTheFlags(t *testing.T) {
	f := &runFlags{tasks: 20000}
	assert.Equal(t, "oneshot: --tasks: 20000 is out of range; run 1 to 10000 tasks (0 means 1)",
		f.explainError(&oneshot.SpecError{Field: "Tasks", Problem: "20000 is out of range", Fix: "run 1 to 10000 tasks (0 means 1)"}))
}

func TestProgressLineOfATask(t *testing.T) {
	s := oneshot.TaskStatus{TaskIndex: 3, TaskID: "w13l7a9u581exyz", Attempt: 1, State: oneshot.StateRunning, NodeName: "vm"}
	assert.Equal(t, "oneshot: [3] task w13l7a9u581e running on vm (0.25s)", progressLine(s, 250*time.Millisecond, true))
	assert.Equal(t, "oneshot: task w13l7a9u581e running on vm (0.25s)", progressLine(s, 250*time.Millisecond, false))
}

func TestStatusFunc(t *testing.T) {
	var shown []oneshot.TaskStatus
	show := func(s oneshot.TaskStatus) { shown = append(shown, s) }
	assert.Nil(t, statusFunc(nil, nil), "one task, no progress: no status function")

	nodes := newNodeNames()
	statusFunc(nodes, nil)(oneshot.TaskStatus{NodeID: "n1abcdefghijklmnop", NodeName: "worker-1"})
	assert.Equal(t, "worker-1", nodes.name("n1abcdefghijklmnop"))
	assert.Equal(t, "n2abcdefghij", nodes.name("n2abcdefghijklmnop"), "a node never seen: the start of its ID")
	assert.Equal(t, "-", nodes.name(""))
	assert.Equal(t, "n1abcdefghij", (*nodeNames)(nil).name("n1abcdefghijklmnop"))

	statusFunc(nodes, show)(oneshot.TaskStatus{TaskIndex: 1, NodeID: "n2abcdefghijklmnop", NodeName: "worker-2"})
	assert.Equal(t, "worker-2", nodes.known("n2abcdefghijklmnop"))
	assert.Len(t, shown, 1)
	statusFunc(nil, show)(oneshot.TaskStatus{})
	assert.Len(t, shown, 2)
}

// Results of tasks as the library gives them, for the tables below.
var (
	t0 = time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)

	okTask = func(i int) oneshot.TaskResult {
		return oneshot.TaskResult{Index: i, ServiceID: "svc" + string(rune('0'+i)), TaskID: "task" + string(rune('0'+i)), NodeID: "node1abcdefghijk",
			State: oneshot.StateComplete, Stdout: []byte("out\n"), StartedAt: t0, FinishedAt: t0.Add(1500 * time.Millisecond),
			History: []oneshot.Attempt{{TaskID: "task" + string(rune('0'+i)), NodeID: "node1abcdefghijk", State: oneshot.StateComplete}}}
	}
	exitTask = func(i, code int, stderr string) oneshot.TaskResult {
		t := okTask(i)
		t.State, t.ExitCode, t.Stderr = oneshot.StateFailed, code, []byte(stderr)
		t.Err = &oneshot.ExitError{Result: &oneshot.Result{ExitCode: code, ServiceName: "oneshot-a-" + string(rune('0'+i))}, Stderr: []byte(stderr)}
		t.History[0].State, t.History[0].ExitCode = oneshot.StateFailed, code
		return t
	}
	rejectedTask = func(i int) oneshot.TaskResult {
		return oneshot.TaskResult{Index: i, ExitCode: -1, State: oneshot.StateRejected, NodeID: "node1abcdefghijk",
			Err: &oneshot.TaskError{Kind: oneshot.ErrImageNotFound, ServiceName: "oneshot-a-" + string(rune('0'+i)), TaskID: "t", State: oneshot.StateRejected,
				Err: "No such image: app:v9"},
			History: []oneshot.Attempt{{State: oneshot.StateRejected, ExitCode: -1}}}
	}
	stoppedTask = func(i, code int, reason error, by string, cause error) oneshot.TaskResult {
		t := okTask(i)
		t.State, t.ExitCode, t.Stdout = oneshot.StateShutdown, code, nil
		t.Err = &oneshot.StopError{Job: "oneshot-a-" + string(rune('0'+i)), Reason: reason, By: by, Cause: cause,
			Result: &oneshot.Result{ExitCode: code, StartedAt: t0}}
		return t
	}
	notStartedTask = func(i int, reason error, by string) oneshot.TaskResult {
		return oneshot.TaskResult{Index: i, ExitCode: -1,
			Err: &oneshot.StopError{Job: "oneshot-a-" + string(rune('0'+i)), Reason: reason, By: by, Result: &oneshot.Result{ExitCode: -1}}}
	}
)

// tasksResult is the Result of a job of the tasks, as the library sums
// them up; and the TasksError of those that did not succeed.
func tasksResult(tasks ...oneshot.TaskResult) (*oneshot.Result, error) {
	res := &oneshot.Result{ServiceName: "oneshot-a", State: oneshot.StateComplete, Tasks: tasks}
	var errs []error
	failed := false
	for _, t := range tasks {
		errs = append(errs, t.Err)
		if t.Err != nil && !failed {
			failed = true
			res.ExitCode, res.State = t.ExitCode, t.State
		}
		res.Attempts += len(t.History)
	}
	if !failed {
		return res, nil
	}
	return res, &oneshot.TasksError{Job: "oneshot-a", Count: len(tasks), Errs: errs}
}

func TestDecideTasks(t *testing.T) {
	failFast := func(i int) string { return "task " + string(rune('0'+i)) + " of its job failed (WithFailFast)" }
	cases := []struct {
		name     string
		tasks    []oneshot.TaskResult
		groupErr func(res *oneshot.Result) *oneshot.StopError // the job's own stop, if any
		cause    error
		code     int
		exited   bool
		message  string   // a part of the message, or of the refusal
		stopped  string   // whole
		warnings []string // a part of each
	}{
		{name: "all succeeded", tasks: []oneshot.TaskResult{okTask(0), okTask(1), okTask(2)}, code: 0, exited: true},
		{name: "the first that failed by index gives the code", tasks: []oneshot.TaskResult{okTask(0), exitTask(1, 3, "oops\n"), exitTask(2, 5, "")},
			code: 3, exited: true},
		{name: "the first by index, not by time", tasks: []oneshot.TaskResult{exitTask(0, 7, ""), exitTask(1, 3, "")}, code: 7, exited: true},
		{name: "a task that --fail-fast stopped is not the one that failed",
			tasks: []oneshot.TaskResult{stoppedTask(0, 143, oneshot.ErrTaskFailed, failFast(2), nil), notStartedTask(1, oneshot.ErrTaskFailed, failFast(2)),
				exitTask(2, 4, "disk full\n"), notStartedTask(3, oneshot.ErrTaskFailed, failFast(2))},
			code: 4, exited: true},
		{name: "stopped by --fail-fast, and none failed of its own: not a success",
			tasks: []oneshot.TaskResult{okTask(0), notStartedTask(1, oneshot.ErrTaskFailed, "task 1 of its job failed (WithFailFast)")},
			code:  125, message: "stopped: task 1 of its job failed (WithFailFast)"},
		{name: "the first failed without an exit code: 125", tasks: []oneshot.TaskResult{okTask(0), rejectedTask(1), exitTask(2, 3, "")},
			code: 125, message: "oneshot: job oneshot-a-1: image not found (task t rejected): No such image: app:v9; build or pull the image"},
		{name: "an exit code first, then a task without one", tasks: []oneshot.TaskResult{exitTask(0, 2, ""), rejectedTask(1)},
			code: 2, exited: true, message: "oneshot: job oneshot-a-1: image not found"},
		{name: "many tasks without an exit code: a few of their errors",
			tasks: []oneshot.TaskResult{exitTask(0, 1, ""), rejectedTask(1), rejectedTask(2), rejectedTask(3), rejectedTask(4), rejectedTask(5)},
			code:  1, exited: true, message: "oneshot: and 2 more tasks' errors: see the table above, or --json"},
		{name: "timeout", tasks: []oneshot.TaskResult{okTask(0), stoppedTask(1, 143, context.DeadlineExceeded, "its timeout of 5s", nil),
			notStartedTask(2, context.DeadlineExceeded, "its timeout of 5s")},
			groupErr: func(res *oneshot.Result) *oneshot.StopError {
				return &oneshot.StopError{Job: "oneshot-a", Reason: context.DeadlineExceeded, By: "its timeout of 5s", Result: res}
			},
			code: 124, stopped: "its timeout of 5s expired", message: "oneshot: job oneshot-a stopped: its timeout of 5s expired; its tasks' services were removed"},
		{name: "timeout after a task failed: still 124", tasks: []oneshot.TaskResult{exitTask(0, 3, ""), stoppedTask(1, 143, context.DeadlineExceeded, "its timeout of 5s", nil)},
			groupErr: func(res *oneshot.Result) *oneshot.StopError {
				return &oneshot.StopError{Job: "oneshot-a", Reason: context.DeadlineExceeded, By: "its timeout of 5s", Result: res}
			},
			code: 124, stopped: "its timeout of 5s expired", message: "oneshot: job oneshot-a stopped: its timeout of 5s expired"},
		{name: "Ctrl-C, a task may still run", tasks: []oneshot.TaskResult{okTask(0), stoppedTask(1, -1, context.Canceled, "the context given to Run", sigint)},
			groupErr: func(res *oneshot.Result) *oneshot.StopError {
				return &oneshot.StopError{Job: "oneshot-a", Reason: context.Canceled, By: "the context given to Run", Cause: sigint, Result: res,
					StillRunning: true, Problem: "task 1: its task had not ended 15s after it was asked to stop"}
			},
			cause: sigint, code: 130, stopped: "interrupted by SIGINT",
			message: "oneshot: job oneshot-a stopped: interrupted by SIGINT; some of its tasks may still be running: task 1: its task had not ended"},
		{name: "output lost of a task that succeeded: a warning",
			tasks: []oneshot.TaskResult{okTask(0), func() oneshot.TaskResult {
				t := okTask(1)
				t.Err = &oneshot.OutputError{Job: "oneshot-a-1", Stream: "stdout", Problem: oneshot.OutputLost, Offset: 10, Size: -1}
				return t
			}()},
			code: 0, exited: true, warnings: []string{"oneshot: warning: job oneshot-a-1: job output incomplete"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tasksResult(tc.tasks...)
			if tc.groupErr != nil {
				err = errors.Join(tc.groupErr(res), err)
			}
			o := decide(res, err, tc.cause, false)
			assert.Equal(t, tc.code, o.code)
			assert.Equal(t, tc.exited, o.exited)
			assert.Equal(t, tc.stopped, o.stopped)
			text := o.message
			if o.refusal != nil {
				text = o.refusal.Error()
			}
			assertContains(t, tc.message, text)
			assertEachContains(t, tc.warnings, o.warnings)
		})
	}
}

func TestDecideTasksWarnsOfEachServiceLeft(t *testing.T) {
	res, err := tasksResult(okTask(0), okTask(1))
	res.CleanupErr = errors.Join(&oneshot.CleanupError{ServiceID: "svc0", Err: errors.New("engine gone")},
		&oneshot.CleanupError{ServiceID: "svc1", Err: errors.New("engine gone")})
	o := decide(res, err, nil, false)
	assertEachContains(t, []string{"oneshot: warning: remove service svc0", "oneshot: warning: remove service svc1"}, o.warnings)
}

func TestTaskTable(t *testing.T) {
	nodes := newNodeNames()
	nodes.note(oneshot.TaskStatus{NodeID: "node1abcdefghijk", NodeName: "vm"})
	failFast := "task 1 of its job failed (WithFailFast)"
	cases := []struct {
		name  string
		tasks []oneshot.TaskResult
		kept  bool
		want  []string
	}{
		{name: "all succeeded: no ERROR column", tasks: []oneshot.TaskResult{okTask(0), okTask(1)}, want: []string{
			"oneshot: job oneshot-a: 2 tasks after 3.25s: 2 succeeded; services removed",
			"  TASK  NODE  STATE     EXIT  TIME   ATTEMPTS",
			"  0     vm    complete  0     1.50s  1",
			"  1     vm    complete  0     1.50s  1",
		}},
		{name: "failures", tasks: []oneshot.TaskResult{okTask(0), exitTask(1, 3, "starting\nno such file: /data/1\n"), rejectedTask(2),
			stoppedTask(3, 143, oneshot.ErrTaskFailed, failFast, nil), notStartedTask(4, oneshot.ErrTaskFailed, failFast)}, want: []string{
			"oneshot: job oneshot-a: 5 tasks after 3.25s: 1 succeeded, 2 failed, 1 stopped, 1 not started; services removed",
			"  TASK  NODE  STATE        EXIT  TIME   ATTEMPTS  ERROR",
			"  0     vm    complete     0     1.50s  1",
			"  1     vm    failed       3     1.50s  1         no such file: /data/1",
			"  2     vm    rejected     -     -      1         image not found: No such image: app:v9",
			"  3     vm    shutdown     143   1.50s  1         stopped by --fail-fast: task 1 failed",
			"  4     -     not started  -     -      0         stopped by --fail-fast: task 1 failed",
		}},
		{name: "kept, timeout", kept: true, tasks: []oneshot.TaskResult{stoppedTask(0, 143, context.DeadlineExceeded, "its timeout of 5s", nil),
			notStartedTask(1, context.DeadlineExceeded, "its timeout of 5s")}, want: []string{
			"oneshot: job oneshot-a: 2 tasks after 3.25s: 0 succeeded, 1 stopped, 1 not started; services kept ('oneshot prune' removes them)",
			"  TASK  NODE  STATE        EXIT  TIME   ATTEMPTS  ERROR",
			"  0     vm    shutdown     143   1.50s  1         stopped: timeout of 5s expired",
			"  1     -     not started  -     -      0         stopped: timeout of 5s expired",
		}},
		{name: "Ctrl-C, an unknown node, a long error", tasks: []oneshot.TaskResult{
			func() oneshot.TaskResult {
				t := stoppedTask(0, 130, context.Canceled, "the context given to Run", sigint)
				t.NodeID = "node2abcdefghijk"
				return t
			}(),
			exitTask(1, 1, strings.Repeat("x", 100))}, want: []string{
			"oneshot: job oneshot-a: 2 tasks after 3.25s: 0 succeeded, 1 failed, 1 stopped; services removed",
			"  TASK  NODE          STATE     EXIT  TIME   ATTEMPTS  ERROR",
			"  0     node2abcdefg  shutdown  130   1.50s  1         stopped: interrupted by SIGINT",
			"  1     vm            failed    1     1.50s  1         " + strings.Repeat("x", 71) + "…",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := tasksResult(tc.tasks...)
			assert.Equal(t, tc.want, taskTable(res, nodes, tc.kept, 3250*time.Millisecond))
		})
	}
}

func TestShortError(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"exit code, stderr's last line", &oneshot.ExitError{Result: &oneshot.Result{ExitCode: 2}, Stderr: []byte("a\nlast words\n\n")}, "last words"},
		{"exit code, no stderr", &oneshot.ExitError{Result: &oneshot.Result{ExitCode: 2}}, ""},
		{"task error, the swarm's message", &oneshot.TaskError{Kind: oneshot.ErrUnschedulable, Message: "no suitable node (1 node)"}, "no suitable node: no suitable node (1 node)"},
		{"task error, no words", &oneshot.TaskError{Kind: oneshot.ErrNodeLost}, "node lost"},
		{"output", &oneshot.OutputError{Job: "j", Stream: "stdout", Problem: oneshot.OutputLate}, "output incomplete (see the warnings)"},
		{"Runner closed", &oneshot.StopError{Job: "j", Reason: oneshot.ErrRunnerClosed, By: "Runner.Close"}, "stopped: its Runner was closed"},
		{"context", &oneshot.StopError{Job: "j", Reason: context.Canceled, By: "the context given to Run", StillRunning: true},
			"stopped: the context given to Run is done; it may still be running"},
		{"other", errors.New("oneshot: job j: swarm manager unreachable\nmore"), "job j: swarm manager unreachable"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, shortError(tc.err), tc.name)
	}
	exit := &oneshot.ExitError{Result: &oneshot.Result{ExitCode: 2}, Stderr: []byte("boom\n")}
	lost := &oneshot.OutputError{Job: "j", Stream: "stderr", Problem: oneshot.OutputLost}
	assert.Equal(t, "boom; output incomplete (see the warnings)", shortTaskError(oneshot.TaskResult{ExitCode: 2, Err: errors.Join(exit, lost)}))
}

func TestPrintJSONOfTasks(t *testing.T) {
	nodes := newNodeNames()
	nodes.note(oneshot.TaskStatus{NodeID: "node1abcdefghijk", NodeName: "vm"})
	res, err := tasksResult(okTask(0), exitTask(1, 3, "oops\n"), notStartedTask(2, oneshot.ErrTaskFailed, "task 1 of its job failed (WithFailFast)"))
	var out strings.Builder
	printJSON(&out, res, err, decide(res, err, nil, false), jsonTasks(res, nodes))
	var got struct {
		ExitCode       int
		Stdout, Stderr string
		Attempts       int
		Tasks          []map[string]any
	}
	require.NoError(t, json.Unmarshal([]byte(out.String()), &got), out.String())
	assert.Equal(t, 3, got.ExitCode)
	assert.Empty(t, got.Stdout+got.Stderr, "each task has its own output")
	assert.Equal(t, 2, got.Attempts)
	require.Len(t, got.Tasks, 3)
	assert.Equal(t, map[string]any{
		"Index": 0.0, "NodeID": "node1abcdefghijk", "NodeName": "vm", "TaskID": "task0", "ServiceID": "svc0", "State": "complete",
		"ExitCode": 0.0, "Stdout": "out\n", "Stderr": "", "StartedAt": "2026-11-24T06:00:00Z", "FinishedAt": "2026-11-24T06:00:01.5Z",
		"History": []any{map[string]any{"TaskID": "task0", "NodeID": "node1abcdefghijk", "ExitCode": 0.0, "State": "complete"}},
	}, got.Tasks[0])
	assert.Equal(t, 3.0, got.Tasks[1]["ExitCode"])
	assert.Equal(t, "oops\n", got.Tasks[1]["Stderr"])
	assert.Equal(t, "oneshot: job oneshot-a-1 exited with code 3: oops", got.Tasks[1]["Error"])
	assert.Equal(t, 3.0, got.Tasks[1]["History"].([]any)[0].(map[string]any)["ExitCode"], "each attempt's code")
	assert.Equal(t, map[string]any{"Index": 2.0, "ExitCode": -1.0, "Stdout": "", "Stderr": "",
		"Error": "oneshot: job oneshot-a-2 stopped: task 1 of its job failed (WithFailFast); it had not started"}, got.Tasks[2],
		"a task never started: no node, no times, no attempts")

	out.Reset()
	printJSON(&out, nil, errors.New("oneshot: JobSpec.Image: empty"), outcome{code: 125}, jsonTasks(nil, nodes))
	assert.NotContains(t, out.String(), "Tasks", "no job, no tasks")
}

func TestConcludeShowsTheTasks(t *testing.T) {
	allOK, _ := tasksResult(okTask(0), okTask(1))
	failed, failedErr := tasksResult(okTask(0), exitTask(1, 3, "oops\n"))
	cases := []struct {
		name      string
		args      []string
		res       *oneshot.Result
		err       error
		terminal  bool
		code      int
		table     bool
		jsonTasks int
	}{
		{name: "all succeeded, off a terminal: no table", args: []string{"--tasks", "2"}, res: allOK, code: 0},
		{name: "all succeeded, on a terminal", args: []string{"--tasks", "2"}, res: allOK, terminal: true, code: 0, table: true},
		{name: "all succeeded, --progress", args: []string{"--tasks", "2", "--progress"}, res: allOK, code: 0, table: true},
		{name: "all succeeded, --keep", args: []string{"--tasks", "2", "--keep"}, res: allOK, code: 0, table: true},
		{name: "all succeeded, --quiet on a terminal", args: []string{"--tasks", "2", "-q"}, res: allOK, terminal: true, code: 0},
		{name: "a task failed", args: []string{"--tasks", "2"}, res: failed, err: failedErr, code: 3, table: true},
		{name: "a task failed, --quiet", args: []string{"--tasks", "2", "-q"}, res: failed, err: failedErr, code: 3, table: true},
		{name: "--json", args: []string{"--tasks", "2", "--json"}, res: failed, err: failedErr, code: 3, table: true, jsonTasks: 2},
		{name: "--json, --global on one node", args: []string{"--global", "--json"}, res: &oneshot.Result{ServiceName: "oneshot-a", Tasks: []oneshot.TaskResult{okTask(0)}},
			code: 0, jsonTasks: 1},
		{name: "--json, one task: no tasks", args: []string{"--json"}, res: &oneshot.Result{ServiceName: "oneshot-a", Tasks: []oneshot.TaskResult{okTask(0)}}, code: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseRunFlags(append(tc.args, "app:v1"))
			require.NoError(t, err)
			var stdout, stderr strings.Builder
			term := terminal{stdout: &stdout, stderr: &stderr, stderrIsTerminal: tc.terminal}
			code := f.conclude(context.Background(), term, newConsole(&stderr), newNodeNames(), tc.res, tc.err, time.Now())
			assert.Equal(t, tc.code, code)
			assert.Equal(t, tc.table, strings.Contains(stderr.String(), "  TASK  NODE"), stderr.String())
			assert.NotContains(t, stderr.String(), "exited with code", "no summary line of one task")
			if f.json {
				var got struct{ Tasks []jsonTask }
				require.NoError(t, json.Unmarshal([]byte(stdout.String()), &got))
				assert.Len(t, got.Tasks, tc.jsonTasks)
			}
		})
	}
}

func TestStoppingNoteOfTasks(t *testing.T) {
	assert.Equal(t, "oneshot: stopping the job's tasks: SIGTERM now, SIGKILL to those still running after their stop grace period of 10s; "+
		"waiting until they have stopped to remove their services (press Ctrl-C again to quit at once)", stoppingNote(&runFlags{tasks: 3}))
	assert.Contains(t, stoppingNote(&runFlags{global: true, keep: true}), "to keep their services")
}
