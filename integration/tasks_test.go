package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// Jobs of many tasks (WithTasks, WithParallelism, WithFailFast, WithRetries)
// on the local single-node swarm; tasks_dind_test.go runs them on the
// 3-node DinD swarm (WithGlobal, tasks on several nodes).
//
// Every task of a job runs the same command; jobkit expands ${NAME},
// ${NAME%K} and ${NAME*K} in its arguments from the task's environment, so
// that each task can do something of its own (exit with its index modulo
// 3, say), and `jobkit waitfile PATH` holds a task until the test makes
// the file (a gate, in a bind-mounted directory).

// indexedJob prints its index and the count, runs for a second (so that
// the tasks running together overlap) and exits with its index modulo 3
// (jobkit expands its arguments).
var indexedJob = []string{"env", oneshot.EnvTaskIndex, "--", "echo", "task ${ONESHOT_TASK_INDEX} of ${ONESHOT_TASK_COUNT}",
	"--", "sleep", "1s", "--", "exit", "${ONESHOT_TASK_INDEX%3}"}

// indexedJobStdout is what task i of count of indexedJob prints.
func indexedJobStdout(i, count int) string {
	return fmt.Sprintf("%s=%d\ntask %d of %d\n", oneshot.EnvTaskIndex, i, i, count)
}

// checkIndexedJob checks the Result and error of count tasks of
// indexedJob: each task's index, code, output and state, the job's code
// (that of task 1, the first to fail) and its error, in which errors.As
// finds task 1's *ExitError first.
func checkIndexedJob(t *testing.T, name string, count int, res *oneshot.Result, err error) {
	t.Helper()
	require.NotNil(t, res, "%v", err)
	require.Len(t, res.Tasks, count)
	for i, task := range res.Tasks {
		assert.Equal(t, i, task.Index, "the tasks are ordered by index")
		assert.Equal(t, i%3, task.ExitCode, "task %d", i)
		assert.Equal(t, indexedJobStdout(i, count), string(task.Stdout), "task %d", i)
		assert.Empty(t, string(task.Stderr), "task %d", i)
		assert.NotEmpty(t, task.ServiceID, "task %d", i)
		assert.NotEmpty(t, task.TaskID, "task %d", i)
		assert.NotEmpty(t, task.NodeID, "task %d", i)
		assert.False(t, task.StartedAt.IsZero(), "task %d ran", i)
		assert.False(t, task.FinishedAt.Before(task.StartedAt), "task %d", i)
		require.Len(t, task.History, 1, "task %d: one attempt", i)
		assert.Equal(t, task.TaskID, task.History[0].TaskID, "task %d", i)
		assert.Equal(t, string(task.Stdout), string(task.History[0].Stdout), "task %d", i)
		if i%3 == 0 {
			assert.Equal(t, oneshot.StateComplete, task.State, "task %d", i)
			assert.NoError(t, task.Err, "task %d", i)
			continue
		}
		assert.Equal(t, oneshot.StateFailed, task.State, "task %d", i)
		var exitErr *oneshot.ExitError
		if assert.ErrorAs(t, task.Err, &exitErr, "task %d", i) {
			assert.Equal(t, i%3, exitErr.ExitCode(), "task %d", i)
		}
	}
	assert.Equal(t, 1, res.ExitCode, "the code of the first task by index that failed: task 1's")
	assert.Equal(t, oneshot.StateFailed, res.State)
	assert.Equal(t, name, res.ServiceName)
	assert.Empty(t, res.ServiceID)
	assert.Empty(t, res.Stdout, "each task's output is in its TaskResult")
	assert.Empty(t, res.Stderr)
	assert.Equal(t, count, res.Attempts)

	var exitErr *oneshot.ExitError
	require.ErrorAs(t, err, &exitErr, "%v", err)
	assert.Equal(t, 1, exitErr.ExitCode(), "errors.As finds the first failed task's error")
	assert.Equal(t, name+"-1", exitErr.Result.ServiceName)
	if assert.Len(t, exitErr.Result.Tasks, 1) {
		assert.Equal(t, 1, exitErr.Result.Tasks[0].Index)
	}
	var tasksErr *oneshot.TasksError
	require.ErrorAs(t, err, &tasksErr)
	assert.Equal(t, count, tasksErr.Count)
	if assert.Len(t, tasksErr.Errs, count) {
		for i, e := range tasksErr.Errs {
			assert.Equal(t, i%3 != 0, e != nil, "task %d's error", i)
		}
	}
	for _, sentinel := range []error{context.Canceled, context.DeadlineExceeded, oneshot.ErrRunnerClosed, oneshot.ErrTaskFailed, oneshot.ErrOutputIncomplete} {
		assert.NotErrorIs(t, err, sentinel)
	}
}

// checkPrefixedLines checks the live output of count tasks of indexedJob
// written with WithTaskPrefix: every line whole, after its task's prefix,
// each task's lines in their order, all of them and nothing else.
func checkPrefixedLines(t *testing.T, live string, count int) {
	t.Helper()
	require.True(t, strings.HasSuffix(live, "\n"), "the live output ends with a whole line: %q", live)
	line := regexp.MustCompile(`^\[(\d+)\] (.*)$`)
	byTask := map[int]string{}
	for _, l := range strings.Split(strings.TrimSuffix(live, "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if !assert.NotNil(t, m, "a line without its task's prefix, or cut: %q", l) {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		byTask[i] += m[2] + "\n"
	}
	for i := range count {
		assert.Equal(t, indexedJobStdout(i, count), byTask[i], "the live lines of task %d", i)
	}
	assert.Len(t, byTask, count, "lines of tasks that do not exist: %q", live)
}

// serviceSampler lists the services of a job of many tasks (by LabelJob)
// every tick while the job runs, from its own goroutine, and records the
// most it saw at once.
type serviceSampler struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	most    int
	samples int
	seen    map[string]bool
	wrong   []string // services whose name does not match their index label
	err     error
}

// sampleJobServices starts sampling the services of job on api's swarm.
func sampleJobServices(ctx context.Context, api *client.Client, job string, every time.Duration) *serviceSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &serviceSampler{cancel: cancel, done: make(chan struct{}), seen: map[string]bool{}}
	filters := make(client.Filters).Add("label", oneshot.LabelJob+"="+job)
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			list, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: filters})
			s.mu.Lock()
			switch {
			case ctx.Err() != nil:
			case err != nil:
				if s.err == nil {
					s.err = err
				}
			default:
				s.samples++
				s.most = max(s.most, len(list.Items))
				for _, svc := range list.Items {
					s.seen[svc.Spec.Name] = true
					if want := job + "-" + svc.Spec.Labels[oneshot.LabelTaskIndex]; svc.Spec.Name != want {
						s.wrong = append(s.wrong, fmt.Sprintf("%s labelled as %s", svc.Spec.Name, want))
					}
				}
			}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the most services seen at once.
func (s *serviceSampler) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NoError(t, s.err, "list the job's services")
	assert.Empty(t, s.wrong, "each task's service is NAME-INDEX, labelled with its index")
	names := slices.Sorted(maps.Keys(s.seen))
	t.Logf("%d samples of the job's services: at most %d at once; seen %v", s.samples, s.most, names)
	return s.most
}

// mostAtOnce is how many of the tasks ran at once at most, by their
// StartedAt and FinishedAt: a task that ends at the time another starts
// does not overlap it.
func mostAtOnce(tasks []oneshot.TaskResult) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, task := range tasks {
		if task.StartedAt.IsZero() {
			continue
		}
		edges = append(edges, edge{task.StartedAt, 1}, edge{task.FinishedAt, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta < edges[j].delta
	})
	running, most := 0, 0
	for _, e := range edges {
		running += e.delta
		most = max(most, running)
	}
	return most
}

// jobName returns a job name unique to the test run.
func jobName(prefix string) string { return prefix + "-" + randomSuffix() }

// countCreates returns a Runner of its own on the local engine that counts
// the services it creates.
func countCreates(t *testing.T) (*oneshot.Runner, *atomic.Int64) {
	t.Helper()
	var creates atomic.Int64
	r := hookedRunner(t, func(req *http.Request, resp *http.Response) {
		if resp == nil && isServiceCreate(req) {
			creates.Add(1)
		}
	})
	return r, &creates
}

// tasksOutcome is what Run or Wait returned for a job of many tasks.
type tasksOutcome struct {
	res *oneshot.Result
	err error
}

// runningIndexes is a WithStatusFunc that closes a channel once n distinct
// tasks of the job have been seen running.
type runningIndexes struct {
	n    int
	mu   sync.Mutex
	seen map[int]bool
	all  chan struct{}
}

func newRunningIndexes(n int) *runningIndexes {
	return &runningIndexes{n: n, seen: map[int]bool{}, all: make(chan struct{})}
}

func (r *runningIndexes) option() oneshot.Option {
	return oneshot.WithStatusFunc(func(st oneshot.TaskStatus) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if st.State == oneshot.StateRunning && !r.seen[st.TaskIndex] {
			r.seen[st.TaskIndex] = true
			if len(r.seen) == r.n {
				close(r.all)
			}
		}
	})
}

func (r *runningIndexes) indexes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.seen))
}

// runInBackground runs run in a goroutine with a context of its own,
// derived from ctx, and returns what it returned on done. If the test
// ends first (a failed check), its clean-up cancels that context and waits
// for run, so that requireNothingLeft, registered before, looks only once
// the job is over.
func runInBackground(t *testing.T, ctx context.Context, run func(context.Context) (*oneshot.Result, error)) (done <-chan tasksOutcome, cancel context.CancelFunc) {
	t.Helper()
	ctx, cancel = context.WithCancel(ctx)
	out := make(chan tasksOutcome, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		res, err := run(ctx)
		out <- tasksOutcome{res, err}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(2 * time.Minute):
			t.Errorf("the job run in the background did not return within 2 minutes of its cancel")
		}
	})
	return out, cancel
}

// receive returns what the job run in the background returned, failing
// the test after bound.
func receive(t *testing.T, done <-chan tasksOutcome, bound time.Duration, what string) (*oneshot.Result, error) {
	t.Helper()
	select {
	case w := <-done:
		return w.res, w.err
	case <-time.After(bound):
		t.Fatalf("%s: Run did not return within %s", what, bound)
	}
	return nil, nil
}

// TestTasksIndexedWithParallelism runs 6 tasks, 2 at a time, each printing
// its index and exiting with its index modulo 3: each task's code and
// output, the job's code (that of task 1), the live lines each whole after
// its task's prefix, and never more than 2 services of the job at once.
func TestTasksIndexedWithParallelism(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 3*time.Minute)
	image := jobkitImage
	const count, parallelism = 6, 2
	name := jobName("oneshot-tasks")
	sampler := sampleJobServices(ctx, localDocker(t), name, 50*time.Millisecond)
	live := &liveBuffer{}
	start := time.Now()
	res, err := localRunner(t).Run(ctx, oneshot.JobSpec{Image: image, Command: indexedJob}, testLabel(t),
		oneshot.WithName(name), oneshot.WithTasks(count), oneshot.WithParallelism(parallelism),
		oneshot.WithStdout(live), oneshot.WithTaskPrefix())
	took := time.Since(start)
	most := sampler.stop(t)

	checkIndexedJob(t, name, count, res, err)
	checkPrefixedLines(t, live.String(), count)
	assert.Equal(t, parallelism, most, "the job's services at once, sampled on the swarm")
	assert.LessOrEqual(t, mostAtOnce(res.Tasks), parallelism, "tasks running at once, by their StartedAt and FinishedAt")
	t.Logf("%d tasks, %d at a time, in %s; at most %d ran at once by their times", count, parallelism, took.Round(10*time.Millisecond), mostAtOnce(res.Tasks))
	t.Logf("the job's error: %v", err)
}

// TestTasksFailFast runs 4 tasks, 2 at a time, with WithFailFast: task 0
// exits 1 once task 1 runs (a gate file the test creates), task 1 sleeps
// 60 s. Task 1 is stopped at once (SIGTERM: 143), tasks 2 and 3 never
// start, and nothing is left.
func TestTasksFailFast(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 3*time.Minute)
	image := jobkitImage
	r, creates := countCreates(t)
	gates := t.TempDir()
	for _, i := range []string{"1", "2", "3"} {
		require.NoError(t, os.WriteFile(filepath.Join(gates, i), nil, 0o644))
	}
	name := jobName("oneshot-failfast")
	live := &liveBuffer{}
	task1Runs := live.when("[1] task 1\n")
	done, _ := runInBackground(t, ctx, func(ctx context.Context) (*oneshot.Result, error) {
		return r.Run(ctx, oneshot.JobSpec{Image: image, Command: []string{"waitfile", "/gates/${ONESHOT_TASK_INDEX}", "--", "echo", "task ${ONESHOT_TASK_INDEX}", "--", "sleep", "${ONESHOT_TASK_INDEX*60}s", "--", "exit", "1"}},
			testLabel(t), oneshot.WithName(name), oneshot.WithTasks(4), oneshot.WithParallelism(2), oneshot.WithFailFast(),
			oneshot.WithStdout(live), oneshot.WithTaskPrefix(),
			oneshot.WithMount(oneshot.Mount{Type: oneshot.MountBind, Source: gates, Target: "/gates", ReadOnly: true}))
	})
	select {
	case <-task1Runs:
	case w := <-done:
		t.Fatalf("the job ended before task 1 ran: %v", w.err)
	case <-time.After(2 * time.Minute):
		t.Fatalf("task 1 never printed its line: %q", live.String())
	}
	opened := time.Now()
	require.NoError(t, os.WriteFile(filepath.Join(gates, "0"), nil, 0o644), "let task 0 fail")
	res, err := receive(t, done, 2*time.Minute, "after task 0's failure")
	returned := time.Since(opened)
	t.Logf("Run returned %s after task 0 was let fail: %v", returned.Round(10*time.Millisecond), err)
	require.NotNil(t, res, "%v", err)
	assert.Less(t, returned, 40*time.Second, "task 1 (sleep 60s) was stopped, not waited for")

	require.Len(t, res.Tasks, 4)
	t0, t1 := res.Tasks[0], res.Tasks[1]
	assert.Equal(t, 1, t0.ExitCode)
	assert.Equal(t, oneshot.StateFailed, t0.State)
	assert.Equal(t, "task 0\n", string(t0.Stdout))
	var exitErr *oneshot.ExitError
	assert.ErrorAs(t, t0.Err, &exitErr)

	var stopErr *oneshot.StopError
	if assert.ErrorAs(t, t1.Err, &stopErr, "task 1 was stopped: %v", t1.Err) {
		assert.ErrorIs(t, t1.Err, oneshot.ErrTaskFailed)
		assert.NotErrorIs(t, t1.Err, context.Canceled)
		assert.Equal(t, "task 0 of its job failed (WithFailFast)", stopErr.By)
		assert.False(t, stopErr.StillRunning, stopErr.Problem)
	}
	assert.Equal(t, 143, t1.ExitCode, "SIGTERM")
	assert.False(t, t1.StartedAt.IsZero())
	assert.Equal(t, "task 1\n", string(t1.Stdout))
	assert.Equal(t, sigtermStderr, string(t1.Stderr))
	for _, task := range res.Tasks[2:] {
		assert.Empty(t, task.State, "task %d never started", task.Index)
		assert.Equal(t, -1, task.ExitCode, "task %d", task.Index)
		assert.True(t, task.StartedAt.IsZero(), "task %d", task.Index)
		assert.Empty(t, task.History, "task %d", task.Index)
		assert.Empty(t, task.ServiceID, "task %d", task.Index)
		if assert.ErrorAs(t, task.Err, &stopErr, "task %d", task.Index) {
			assert.ErrorIs(t, task.Err, oneshot.ErrTaskFailed, "task %d", task.Index)
		}
	}
	assert.EqualValues(t, 2, creates.Load(), "services created: tasks 0 and 1 only")

	assert.Equal(t, 1, res.ExitCode, "task 0's")
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, name+"-0", exitErr.Result.ServiceName, "errors.As finds task 0's error first")
	assert.ErrorIs(t, err, oneshot.ErrTaskFailed)
	assert.NotErrorIs(t, err, context.Canceled)
	requireNoContainersLeft(t, time.Minute)
}

// TestTasksRetriesKeepEveryAttempt runs 2 tasks, each retried twice, every
// attempt printing its own swarm task ID and exiting 1: each task's History
// holds its 3 attempts, each with what it printed.
func TestTasksRetriesKeepEveryAttempt(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 3*time.Minute)
	res, err := runJob(t, ctx, []string{"env", "ATTEMPT", oneshot.EnvTaskIndex, "--", "exit", "1"},
		oneshot.WithTasks(2), oneshot.WithRetries(2, 0), oneshot.WithEnv("ATTEMPT", "{{.Task.ID}}"))
	require.NotNil(t, res, "%v", err)
	checkRetriedTasks(t, res, err, 2, 3, nil)
}

// checkRetriedTasks checks count tasks that printed ATTEMPT, NODE (unless
// hostnames is nil) and their index, then exited 1, on each of attempts
// attempts.
func checkRetriedTasks(t *testing.T, res *oneshot.Result, err error, count, attempts int, hostnames map[string]string) {
	t.Helper()
	require.Len(t, res.Tasks, count)
	ids := map[string]bool{}
	for i, task := range res.Tasks {
		assert.Equal(t, i, task.Index)
		assert.Equal(t, 1, task.ExitCode, "task %d", i)
		assert.Equal(t, oneshot.StateFailed, task.State, "task %d", i)
		var exitErr *oneshot.ExitError
		assert.ErrorAs(t, task.Err, &exitErr, "task %d", i)
		if !assert.Len(t, task.History, attempts, "task %d", i) {
			continue
		}
		for k, a := range task.History {
			want := "ATTEMPT=" + a.TaskID + "\n"
			if hostnames != nil {
				want += "NODE=" + hostnames[a.NodeID] + "\n"
				assert.Contains(t, hostnames, a.NodeID, "task %d attempt %d ran on a node it may", i, k)
			}
			want += fmt.Sprintf("%s=%d\n", oneshot.EnvTaskIndex, i)
			assert.Equal(t, want, string(a.Stdout), "task %d attempt %d has its own output", i, k)
			assert.Equal(t, 1, a.ExitCode, "task %d attempt %d", i, k)
			assert.Equal(t, oneshot.StateFailed, a.State, "task %d attempt %d", i, k)
			assert.NotEmpty(t, a.NodeID, "task %d attempt %d", i, k)
			assert.False(t, a.FinishedAt.Before(a.CreatedAt), "task %d attempt %d", i, k)
			if k > 0 {
				assert.False(t, a.CreatedAt.Before(task.History[k-1].CreatedAt), "task %d: attempts oldest first", i)
			}
			assert.False(t, ids[a.TaskID], "every attempt is a swarm task of its own")
			ids[a.TaskID] = true
		}
		last := task.History[len(task.History)-1]
		assert.Equal(t, last.TaskID, task.TaskID, "task %d: the TaskResult is its last attempt's", i)
		assert.Equal(t, string(last.Stdout), string(task.Stdout), "task %d", i)
	}
	assert.Equal(t, count*attempts, res.Attempts, "the attempts of all the tasks")
	assert.Equal(t, 1, res.ExitCode)
	var exitErr *oneshot.ExitError
	require.ErrorAs(t, err, &exitErr)
	if assert.Len(t, exitErr.Result.Tasks, 1) {
		assert.Equal(t, 0, exitErr.Result.Tasks[0].Index)
	}
}

// TestTasksCancelled cancels a job of 12 tasks of `sleep 60s`, 4 at a
// time, once 4 run: Run returns a *StopError matching context.Canceled,
// the 4 that ran were stopped (SIGTERM: 143), the 8 others never started,
// and nothing of the job is left.
func TestTasksCancelled(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 4*time.Minute)
	r, creates := countCreates(t)
	const count, parallelism = 12, 4
	name := jobName("oneshot-cancel")
	running := newRunningIndexes(parallelism)
	done, cancel := runInBackground(t, ctx, func(ctx context.Context) (*oneshot.Result, error) {
		return r.Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: sleepJob}, testLabel(t), oneshot.WithName(name),
			oneshot.WithTasks(count), oneshot.WithParallelism(parallelism), running.option())
	})
	select {
	case <-running.all:
	case w := <-done:
		t.Fatalf("the job ended before %d tasks ran: %v", parallelism, w.err)
	case <-time.After(2 * time.Minute):
		t.Fatalf("%d tasks did not run within 2 minutes", parallelism)
	}
	cancelled := time.Now()
	cancel()
	res, err := receive(t, done, 2*time.Minute, "after the cancel")
	t.Logf("Run returned %s after the cancel: %v", time.Since(cancelled).Round(10*time.Millisecond), err)
	require.NotNil(t, res, "%v", err)

	var stopErr *oneshot.StopError
	require.ErrorAs(t, err, &stopErr)
	assert.ErrorIs(t, err, context.Canceled)
	for _, other := range []error{context.DeadlineExceeded, oneshot.ErrRunnerClosed, oneshot.ErrTaskFailed} {
		assert.NotErrorIs(t, err, other, "a stop has one reason")
	}
	assert.Equal(t, name, stopErr.Job)
	assert.Equal(t, "the context given to Run", stopErr.By)
	assert.False(t, stopErr.StillRunning, stopErr.Problem)
	assert.Same(t, res, stopErr.Result)
	var tasksErr *oneshot.TasksError
	assert.False(t, errors.As(err, &tasksErr), "the stops are the StopError's, not failures of their own: %v", err)

	assert.Equal(t, []int{0, 1, 2, 3}, running.indexes(), "the first 4 tasks ran")
	assert.EqualValues(t, parallelism, creates.Load(), "services created: those of the tasks that ran")
	require.Len(t, res.Tasks, count)
	for i, task := range res.Tasks {
		assert.Equal(t, i, task.Index)
		if assert.ErrorAs(t, task.Err, &stopErr, "task %d", i) {
			assert.ErrorIs(t, task.Err, context.Canceled, "task %d", i)
			assert.NotErrorIs(t, task.Err, oneshot.ErrTaskFailed, "task %d", i)
		}
		if i < parallelism {
			assert.Equal(t, 143, task.ExitCode, "task %d was stopped by SIGTERM", i)
			assert.Equal(t, oneshot.StateShutdown, task.State, "task %d", i)
			assert.False(t, task.StartedAt.IsZero(), "task %d", i)
			assert.Equal(t, sigtermStderr, string(task.Stderr), "task %d", i)
			assert.Len(t, task.History, 1, "task %d", i)
			continue
		}
		assert.Empty(t, task.State, "task %d never started", i)
		assert.Equal(t, -1, task.ExitCode, "task %d", i)
		assert.True(t, task.StartedAt.IsZero(), "task %d", i)
		assert.Empty(t, task.History, "task %d", i)
	}
	assert.Equal(t, 143, res.ExitCode, "task 0's")
	requireNoServicesLeft(t)
	requireNoContainersLeft(t, time.Minute)
}

// TestTasksFailFastJobExitCodeIsTheFailure runs 2 tasks with WithFailFast:
// task 1 exits 1 while task 0 runs (a gate file the test creates once it
// does), and task 0 is stopped because of it. The job's ExitCode and State
// are those of the task that failed, task 1, as errors.As finds its
// *ExitError: not the 143 of task 0, which only was stopped.
func TestTasksFailFastJobExitCodeIsTheFailure(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 3*time.Minute)
	image := jobkitImage
	gates := t.TempDir()
	running := newRunningIndexes(2)
	done, _ := runInBackground(t, ctx, func(ctx context.Context) (*oneshot.Result, error) {
		return localRunner(t).Run(ctx, oneshot.JobSpec{Image: image, Command: []string{"waitfile", "/gates/${ONESHOT_TASK_INDEX}", "--", "exit", "${ONESHOT_TASK_INDEX%3}"}},
			testLabel(t), oneshot.WithTasks(2), oneshot.WithFailFast(), running.option(),
			oneshot.WithMount(oneshot.Mount{Type: oneshot.MountBind, Source: gates, Target: "/gates", ReadOnly: true}))
	})
	// Both tasks run, waiting for their gates.
	select {
	case <-running.all:
	case w := <-done:
		t.Fatalf("the job ended before its tasks ran: %v", w.err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the tasks did not run within 2 minutes")
	}
	require.NoError(t, os.WriteFile(filepath.Join(gates, "1"), nil, 0o644), "let task 1 fail")
	res, err := receive(t, done, 2*time.Minute, "after task 1's failure")
	require.NotNil(t, res, "%v", err)
	t.Logf("Run: %v", err)
	require.Len(t, res.Tasks, 2)
	var stopErr *oneshot.StopError
	if assert.ErrorAs(t, res.Tasks[0].Err, &stopErr) {
		assert.ErrorIs(t, res.Tasks[0].Err, oneshot.ErrTaskFailed)
		assert.Equal(t, "task 1 of its job failed (WithFailFast)", stopErr.By)
	}
	assert.Equal(t, 143, res.Tasks[0].ExitCode, "task 0 was stopped by SIGTERM")
	assert.Equal(t, 1, res.Tasks[1].ExitCode)
	assert.Equal(t, oneshot.StateFailed, res.Tasks[1].State)

	var exitErr *oneshot.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 1, exitErr.ExitCode(), "errors.As finds task 1's *ExitError")
	assert.Equal(t, 1, res.ExitCode, "the job's code is that of the task that failed, not of the one stopped because of it")
	assert.Equal(t, oneshot.StateFailed, res.State)
}

// TestTasksFailFastWhenATaskCannotBeCreated runs 3 tasks of `sleep 60s`
// with WithFailFast, the name of task 2's service taken by another
// service: task 2 fails as it is created, and that stops tasks 0 and 1 as
// any failure does.
func TestTasksFailFastWhenATaskCannotBeCreated(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 3*time.Minute)
	name := jobName("oneshot-taken")
	one := uint64(1)
	startService(t, ctx, swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name + "-2"},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: jobkitImage, Args: sleepJob}}})
	start := time.Now()
	res, err := localRunner(t).Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: sleepJob},
		testLabel(t), oneshot.WithName(name), oneshot.WithTasks(3), oneshot.WithFailFast())
	took := time.Since(start)
	t.Logf("Run returned after %s: %v", took.Round(10*time.Millisecond), err)
	require.NotNil(t, res, "%v", err)
	require.Len(t, res.Tasks, 3)
	var specErr *oneshot.SpecError
	assert.ErrorAs(t, res.Tasks[2].Err, &specErr, "task 2's service could not be created")
	assert.Equal(t, -1, res.Tasks[2].ExitCode)
	for _, task := range res.Tasks[:2] {
		var stopErr *oneshot.StopError
		if assert.ErrorAs(t, task.Err, &stopErr, "task %d was stopped: %v", task.Index, task.Err) {
			assert.ErrorIs(t, task.Err, oneshot.ErrTaskFailed, "task %d", task.Index)
		}
	}
	assert.Less(t, took, 40*time.Second, "tasks 0 and 1 (sleep 60s) were stopped, not waited for")
}

// TestTasksTimeout gives a job of 3 tasks of `sleep 60s`, 2 at a time, a
// timeout of 10 s: the job's timeout stops every task in flight, the third
// never starts.
func TestTasksTimeout(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 3*time.Minute)
	r, creates := countCreates(t)
	const timeout = 10 * time.Second
	start := time.Now()
	res, err := r.Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: sleepJob}, testLabel(t),
		oneshot.WithTasks(3), oneshot.WithParallelism(2), oneshot.WithTimeout(timeout))
	took := time.Since(start)
	t.Logf("Run returned after %s: %v", took.Round(10*time.Millisecond), err)
	require.NotNil(t, res, "%v", err)
	var stopErr *oneshot.StopError
	require.ErrorAs(t, err, &stopErr)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, oneshot.ErrTaskFailed)
	assert.Equal(t, "its timeout of 10s", stopErr.By)
	assert.GreaterOrEqual(t, took, timeout)
	assert.Less(t, took, timeout+time.Minute, "a bound on the stop, not on speed")
	require.Len(t, res.Tasks, 3)
	for _, task := range res.Tasks {
		if assert.ErrorAs(t, task.Err, &stopErr, "task %d", task.Index) {
			assert.ErrorIs(t, task.Err, context.DeadlineExceeded, "task %d", task.Index)
			assert.Equal(t, "its timeout of 10s", stopErr.By, "task %d", task.Index)
		}
		if task.Index < 2 && !task.StartedAt.IsZero() {
			assert.Equal(t, 143, task.ExitCode, "task %d", task.Index)
		}
	}
	assert.Empty(t, res.Tasks[2].State, "task 2 never started")
	assert.EqualValues(t, 2, creates.Load())
	requireNoContainersLeft(t, time.Minute)
}

// TestTasksRunnerClosed closes the Runner of a job of 3 tasks of `sleep
// 60s`, 2 at a time, once 2 run: Wait returns a *StopError matching
// ErrRunnerClosed, both stopped, the third never started.
func TestTasksRunnerClosed(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 3*time.Minute)
	r, creates := countCreates(t)
	running := newRunningIndexes(2)
	job, err := r.Start(ctx, oneshot.JobSpec{Image: jobkitImage, Command: sleepJob}, testLabel(t),
		oneshot.WithTasks(3), oneshot.WithParallelism(2), running.option())
	require.NoError(t, err)
	await(t, running.all, 2*time.Minute, "2 tasks running")
	closed := time.Now()
	require.NoError(t, r.Close())
	t.Logf("Close returned after %s", time.Since(closed).Round(10*time.Millisecond))
	res, err := job.Wait(ctx)
	require.NotNil(t, res, "%v", err)
	t.Logf("err: %v", err)
	var stopErr *oneshot.StopError
	require.ErrorAs(t, err, &stopErr)
	assert.ErrorIs(t, err, oneshot.ErrRunnerClosed)
	assert.NotErrorIs(t, err, context.Canceled)
	assert.Equal(t, "Runner.Close", stopErr.By)
	require.Len(t, res.Tasks, 3)
	for _, task := range res.Tasks {
		t.Logf("task %d: code %d state %s err %v", task.Index, task.ExitCode, task.State, task.Err)
		if assert.ErrorAs(t, task.Err, &stopErr, "task %d", task.Index) {
			assert.ErrorIs(t, task.Err, oneshot.ErrRunnerClosed, "task %d", task.Index)
		}
	}
	assert.Equal(t, 143, res.Tasks[0].ExitCode)
	assert.Equal(t, 143, res.Tasks[1].ExitCode)
	assert.Empty(t, res.Tasks[2].State, "task 2 never started")
	assert.EqualValues(t, 2, creates.Load())
	requireNoServicesLeft(t)
	requireNoContainersLeft(t, time.Minute)
}
