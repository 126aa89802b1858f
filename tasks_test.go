package oneshot

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Jobs of several tasks on the fake engine: each task is a service of its
// own ("job-0" is the service "svc-job-0"), driven by the test as a job of
// one task is.

// startTasks starts a job named "job" of several tasks.
func startTasks(t *testing.T, ctx context.Context, r *Runner, opts ...Option) *Job {
	t.Helper()
	job, err := r.Start(ctx, JobSpec{Image: "app:v1", Name: "job"}, opts...)
	require.NoError(t, err)
	return job
}

// ends sets the task of service "svc-NAME" ended with code, after it printed
// out.
func ends(f *fakeEngine, name, taskID string, state swarm.TaskState, code int, out string) {
	f.setTasks("svc-"+name, task(taskID, 0, swarm.TaskStateRunning))
	if out != "" {
		f.log(taskID).write(false, []byte(out))
	}
	f.setTasks("svc-"+name, task(taskID, 0, state, exited(code)))
}

// noCreate checks that no service is being created now: the group cannot
// create one before a task ends.
func noCreate(t *testing.T, f *fakeEngine) {
	t.Helper()
	select {
	case name := <-f.creating:
		t.Fatalf("%s created beyond the parallelism", name)
	default:
	}
}

func TestTasksRunAtMostParallelismAtOnce(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	live := newLineWriter()
	job := startTasks(t, context.Background(), r, WithTasks(3), WithParallelism(2), WithStdout(live), WithTaskPrefix())
	assert.Equal(t, "job-0", await(t, f.creating, "task 0 created"))
	assert.Equal(t, "job-1", await(t, f.creating, "task 1 created"))
	noCreate(t, f)

	ends(f, "job-0", "a0", swarm.TaskStateComplete, 0, "zero\n")
	assert.Equal(t, "job-2", await(t, f.creating, "task 2 created once task 0 is over"))
	ends(f, "job-1", "a1", swarm.TaskStateFailed, 1, "one\n")
	ends(f, "job-2", "a2", swarm.TaskStateFailed, 2, "two\n")

	w := await(t, waitAsync(context.Background(), job), "Wait")
	var tasksErr *TasksError
	require.ErrorAs(t, w.err, &tasksErr)
	assert.Equal(t, 3, tasksErr.Count)
	var exitErr *ExitError
	require.ErrorAs(t, w.err, &exitErr, "the first failed task's error comes first")
	assert.Equal(t, 1, exitErr.ExitCode())
	assert.Equal(t, 1, exitErr.Result.Tasks[0].Index)
	assert.Contains(t, w.err.Error(), "2 of 3 tasks did not succeed: task 1: ")

	res := w.res
	assert.Equal(t, 1, res.ExitCode, "the first failed task's code")
	assert.Equal(t, StateFailed, res.State)
	assert.Empty(t, res.Stdout)
	assert.Equal(t, "job", res.ServiceName)
	assert.Empty(t, res.ServiceID)
	assert.Equal(t, 3, res.Attempts)
	require.Len(t, res.Tasks, 3)
	for i, want := range []struct {
		code  int
		state TaskState
		out   string
	}{{0, StateComplete, "zero\n"}, {1, StateFailed, "one\n"}, {2, StateFailed, "two\n"}} {
		tr := res.Tasks[i]
		assert.Equal(t, i, tr.Index)
		assert.Equal(t, want.code, tr.ExitCode, "task %d", i)
		assert.Equal(t, want.state, tr.State, "task %d", i)
		assert.Equal(t, want.out, string(tr.Stdout), "task %d", i)
		assert.Equal(t, "svc-job-"+string(rune('0'+i)), tr.ServiceID)
		assert.Equal(t, "n1", tr.NodeID)
		require.Len(t, tr.History, 1)
		assert.Equal(t, want.out, string(tr.History[0].Stdout))
		assert.Equal(t, want.code, tr.History[0].ExitCode)
	}
	assert.NoError(t, res.Tasks[0].Err)
	assert.ErrorAs(t, res.Tasks[2].Err, &exitErr)

	lines := slices.Sorted(slices.Values(splitLines(live.String())))
	assert.Equal(t, []string{"[0] zero", "[1] one", "[2] two"}, lines, "each line whole, after its task's prefix")
	assert.ElementsMatch(t, []string{"svc-job-0", "svc-job-1", "svc-job-2"}, f.removedServices(), "every task's service removed")

	for i, created := range f.created {
		c := created.Spec.TaskTemplate.ContainerSpec
		assert.Contains(t, c.Env, "ONESHOT_TASK_INDEX="+string(rune('0'+i)))
		assert.Contains(t, c.Env, "ONESHOT_TASK_COUNT=3")
		assert.Equal(t, "job", created.Spec.Labels[LabelJob])
		assert.Equal(t, string(rune('0'+i)), created.Spec.Labels[LabelTaskIndex])
	}
}

func splitLines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestFailFastStopsTheOtherTasks(t *testing.T) {
	r, f, c := newFakeRunner(t)
	st := newStatuses()
	job := startTasks(t, context.Background(), r, WithTasks(3), WithParallelism(2), WithFailFast(), st.option())
	await(t, f.creating, "task 0 created")
	await(t, f.creating, "task 1 created")
	f.setTasks("svc-job-1", task("b1", 0, swarm.TaskStateRunning, exited(0)))
	st.await(t, StateRunning)

	ends(f, "job-0", "a0", swarm.TaskStateFailed, 1, "")
	assert.Equal(t, "svc-job-1", await(t, f.parked, "task 1 stopped"))
	f.setTasks("svc-job-1", task("b1", 0, swarm.TaskStateShutdown, exited(143)))
	reaped(t, r, f, c)

	w := await(t, waitAsync(context.Background(), job), "Wait")
	noCreate(t, f)
	var exitErr *ExitError
	require.ErrorAs(t, w.err, &exitErr)
	assert.Equal(t, 0, exitErr.Result.Tasks[0].Index, "the task that failed")
	assert.ErrorIs(t, w.err, ErrTaskFailed, "the others were stopped for it")
	assert.NotErrorIs(t, w.err, context.Canceled)

	tasks := w.res.Tasks
	require.Len(t, tasks, 3)
	var stopErr *StopError
	require.ErrorAs(t, tasks[1].Err, &stopErr)
	assert.ErrorIs(t, stopErr, ErrTaskFailed)
	assert.Contains(t, stopErr.Error(), "stopped: task 0 of its job failed (WithFailFast)")
	assert.Equal(t, 143, tasks[1].ExitCode)
	assert.Equal(t, TaskState(""), tasks[2].State, "never started")
	assert.Equal(t, -1, tasks[2].ExitCode)
	require.ErrorAs(t, tasks[2].Err, &stopErr)
	assert.Equal(t, 1, w.res.ExitCode)
}

func TestAJobOfManyTasksIsStoppedWhole(t *testing.T) {
	r, f, c := newFakeRunner(t)
	st := newStatuses()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job := startTasks(t, ctx, r, WithTasks(3), WithParallelism(2), st.option())
	for _, name := range []string{"job-0", "job-1"} {
		await(t, f.creating, name+" created")
		f.setTasks("svc-"+name, task("t-"+name, 0, swarm.TaskStateRunning, exited(0)))
		st.await(t, StateRunning)
	}
	cancel()
	parked := []string{await(t, f.parked, "a task stopped"), await(t, f.parked, "the other task stopped")}
	assert.ElementsMatch(t, []string{"svc-job-0", "svc-job-1"}, parked)
	for _, name := range []string{"job-0", "job-1"} {
		f.setTasks("svc-"+name, task("t-"+name, 0, swarm.TaskStateShutdown, exited(143)))
	}
	reaped(t, r, f, c)

	w := await(t, waitAsync(context.Background(), job), "Wait")
	noCreate(t, f)
	var stopErr *StopError
	require.ErrorAs(t, w.err, &stopErr)
	assert.Equal(t, "job", stopErr.Job)
	assert.ErrorIs(t, w.err, context.Canceled)
	assert.NotErrorIs(t, w.err, ErrTaskFailed)
	var tasksErr *TasksError
	assert.False(t, errors.As(w.err, &tasksErr), "the stop says it all: %v", w.err)
	assert.Equal(t, []int{143, 143, -1}, []int{w.res.Tasks[0].ExitCode, w.res.Tasks[1].ExitCode, w.res.Tasks[2].ExitCode})
	assert.Contains(t, w.err.Error(), "of its 3 tasks, 0 had ended, 2 were stopped, 1 never started")
	assert.ElementsMatch(t, []string{"svc-job-0", "svc-job-1"}, f.removedServices())
}

func TestAGlobalJobRunsOnTheNodesReadyAtStart(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	f.nodes = []swarm.Node{
		{ID: "n1", Description: swarm.NodeDescription{Hostname: "node-1"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}, Spec: swarm.NodeSpec{Availability: swarm.NodeAvailabilityActive}},
		{ID: "n2", Description: swarm.NodeDescription{Hostname: "node-2"}, Status: swarm.NodeStatus{State: swarm.NodeStateDown}, Spec: swarm.NodeSpec{Availability: swarm.NodeAvailabilityActive}},
		{ID: "n3", Description: swarm.NodeDescription{Hostname: "node-3"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}, Spec: swarm.NodeSpec{Availability: swarm.NodeAvailabilityActive}},
	}
	job := startTasks(t, context.Background(), r, WithGlobal())
	await(t, f.creating, "task 0 created")
	await(t, f.creating, "task 1 created")
	noCreate(t, f)
	ends(f, "job-0", "a0", swarm.TaskStateComplete, 0, "on node-1\n")
	f.setTasks("svc-job-1", task("a1", 0, swarm.TaskStateComplete, exited(0), func(t *swarm.Task) { t.NodeID = "n3" }))

	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err)
	require.Len(t, w.res.Tasks, 2, "one task per node ready when it started")
	assert.Equal(t, "n3", w.res.Tasks[1].NodeID)
	require.Len(t, f.created, 2)
	assert.Contains(t, f.created[0].Spec.TaskTemplate.Placement.Constraints, "node.id==n1")
	assert.Contains(t, f.created[1].Spec.TaskTemplate.Placement.Constraints, "node.id==n3")
	assert.Contains(t, f.created[1].Spec.TaskTemplate.ContainerSpec.Env, "ONESHOT_TASK_COUNT=2")
}

func TestATaskOnALostNodeFailsOnlyItself(t *testing.T) {
	r, f, c := newFakeRunner(t)
	st := newStatuses()
	job := startTasks(t, context.Background(), r, WithTasks(2), st.option())
	await(t, f.creating, "task 0 created")
	await(t, f.creating, "task 1 created")
	ends(f, "job-1", "b1", swarm.TaskStateComplete, 0, "done\n")
	f.setTasks("svc-job-0", task("a0", 0, swarm.TaskStateRunning))
	st.await(t, StateRunning)
	f.setNode(swarm.NodeStateDown)
	f.polls.await(t, r)
	ch := waitAsync(context.Background(), job)
	c.Advance(nodeLossConfirm)

	w := await(t, ch, "Wait")
	require.ErrorIs(t, w.err, ErrNodeLost)
	var taskErr *TaskError
	require.ErrorAs(t, w.res.Tasks[0].Err, &taskErr)
	assert.NoError(t, w.res.Tasks[1].Err)
	assert.Equal(t, "done\n", string(w.res.Tasks[1].Stdout))
	assert.Equal(t, -1, w.res.ExitCode)
}

func TestManyTasksValidation(t *testing.T) {
	cases := []struct {
		name  string
		spec  JobSpec
		field string
	}{
		{"negative tasks", JobSpec{Image: "a", Tasks: -1}, "Tasks"},
		{"too many tasks", JobSpec{Image: "a", Tasks: maxTasks + 1}, "Tasks"},
		{"tasks of a global job", JobSpec{Image: "a", Tasks: 3, Global: true}, "Tasks"},
		{"negative parallelism", JobSpec{Image: "a", Tasks: 3, Parallelism: -1}, "Parallelism"},
		{"a name without room for the index", JobSpec{Image: "a", Tasks: 3, Name: "n23456789012345678901234567890123456789012345678901234567890"}, "Name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var specErr *SpecError
			require.ErrorAs(t, tc.spec.Validate(), &specErr)
			assert.Equal(t, tc.field, specErr.Field)
		})
	}
	assert.NoError(t, (&JobSpec{Image: "a", Tasks: 3, Parallelism: 5, Name: "backfill"}).Validate())
	assert.NoError(t, (&JobSpec{Image: "a", Global: true, Tasks: 1}).Validate())
}

func TestTheJobsExitCodeIsTheTaskThatFailedNotOneStoppedForIt(t *testing.T) {
	r, f, c := newFakeRunner(t)
	st := newStatuses()
	job := startTasks(t, context.Background(), r, WithTasks(2), WithFailFast(), st.option())
	await(t, f.creating, "task 0 created")
	await(t, f.creating, "task 1 created")
	f.setTasks("svc-job-0", task("a0", 0, swarm.TaskStateRunning, exited(0)))
	st.await(t, StateRunning)
	ends(f, "job-1", "b1", swarm.TaskStateFailed, 1, "")
	assert.Equal(t, "svc-job-0", await(t, f.parked, "task 0 stopped for it"))
	f.setTasks("svc-job-0", task("a0", 0, swarm.TaskStateShutdown, exited(143)))
	reaped(t, r, f, c)

	w := await(t, waitAsync(context.Background(), job), "Wait")
	assert.Equal(t, 1, w.res.ExitCode, "task 1 failed; task 0 was only stopped for it")
	assert.Equal(t, StateFailed, w.res.State)
	assert.Equal(t, 143, w.res.Tasks[0].ExitCode)
}

func TestATaskThatCannotBeCreatedFailsFastToo(t *testing.T) {
	r, f, c := newFakeRunner(t)
	f.refuseName = "job-1"
	st := newStatuses()
	job := startTasks(t, context.Background(), r, WithTasks(3), WithParallelism(2), WithFailFast(), st.option())
	await(t, f.creating, "task 0 created")
	await(t, f.creating, "task 1 refused")
	f.setTasks("svc-job-0", task("a0", 0, swarm.TaskStateRunning, exited(0)))
	assert.Equal(t, "svc-job-0", await(t, f.parked, "task 0 stopped: task 1 failed"))
	f.setTasks("svc-job-0", task("a0", 0, swarm.TaskStateShutdown, exited(143)))
	reaped(t, r, f, c)

	w := await(t, waitAsync(context.Background(), job), "Wait")
	noCreate(t, f)
	var specErr *SpecError
	require.ErrorAs(t, w.res.Tasks[1].Err, &specErr, "the name taken")
	assert.ErrorIs(t, w.res.Tasks[0].Err, ErrTaskFailed)
	assert.Equal(t, TaskState(""), w.res.Tasks[2].State, "never started")
}

func TestTasksOneAtATime(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	job := startTasks(t, context.Background(), r, WithTasks(3), WithParallelism(1))
	for i, name := range []string{"job-0", "job-1", "job-2"} {
		assert.Equal(t, name, await(t, f.creating, name+" created"))
		noCreate(t, f)
		ends(f, name, "t"+name, swarm.TaskStateComplete, 0, string(rune('a'+i))+"\n")
	}
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err)
	require.Len(t, w.res.Tasks, 3)
	for i, tr := range w.res.Tasks {
		assert.Equal(t, string(rune('a'+i))+"\n", string(tr.Stdout))
	}
}
