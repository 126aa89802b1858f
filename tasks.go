package oneshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A job of several tasks (JobSpec.Tasks, JobSpec.Global) is a group of
// jobs of one task: each task is a swarm service of its own, NAME-INDEX,
// created, supervised, stopped, read and removed exactly as a job of one
// task is (supervise.go), at most JobSpec.Parallelism at once. The group's
// supervisor starts the tasks as slots free up, hands a stop (its context,
// its timeout, Runner.Close, WithFailFast) to every task in flight, and
// sums their Results up.
//
// One service per task, rather than one service whose replicas are the
// tasks: each task then has its own stop, its own log read whole and its
// own removal, the per-task exit codes and output come whole as they do
// for one task, and a slot is freed only once its task is over, so
// Parallelism holds exactly. The cost is a create and a remove per task;
// the task poll and the event stream stay one per Runner (wait.go).

// Labels that the services of a job of several tasks carry.
const (
	LabelJob       = "oneshot.job"        // the job's name
	LabelTaskIndex = "oneshot.task-index" // the task's index
)

// Environment variables that each task of a job of several tasks gets.
const (
	EnvTaskIndex = "ONESHOT_TASK_INDEX" // 0 ... count-1
	EnvTaskCount = "ONESHOT_TASK_COUNT"
)

// taskGroup is what a job of several tasks runs: each task's spec.
type taskGroup struct {
	tasks       []JobSpec
	parallelism int
	ids         swarmIDs
	auth        string
	// status serializes JobSpec.OnStatus, which the tasks' supervisors
	// call; stdout and stderr are the job's writers, shared line by line.
	status         sync.Mutex
	stdout, stderr *sharedLines
	// renew is when to renew the lease of the job's data next (jobdata.go):
	// between two tasks' services, none may hold it.
	renew alarm
}

// startGroup starts a job of several tasks: it checks the names the spec
// uses, picks the nodes of a global job, creates the first task (so that
// Start reports what the engine says of it) and leaves the others to the
// group's supervisor.
func (r *Runner) startGroup(ctx context.Context, spec JobSpec, by string) (*Job, error) {
	p, err := r.prepare(ctx, &spec)
	if err != nil {
		return nil, err
	}
	name := p.name
	count, nodes := max(spec.Tasks, 1), []string(nil)
	if spec.Global {
		if nodes, err = r.globalNodes(ctx, spec.Constraints); err != nil {
			return nil, r.notStarted(ctx, name, "list the nodes of the global job", err)
		}
		count = len(nodes)
	}
	if err := r.createJobData(ctx, &spec, &p); err != nil {
		return nil, err
	}
	j := &Job{runner: r, spec: spec, name: name, started: r.clock.Now(), stopping: make(chan struct{}), detaching: make(chan struct{}), done: make(chan struct{})}
	j.group = newTaskGroup(j, count, nodes, p.ids, p.auth)
	first, err := j.startTask(ctx, 0, by)
	if err != nil {
		return nil, joinErrors(err, r.removeStartData(&p))
	}
	r.register(j)
	j.watchForStop(ctx, by)
	j.group.renew = j.dataRenewal()
	go j.superviseGroup(first)
	return j, nil
}

// newTaskGroup makes each task's spec from the job's: its name, index and
// count in its environment and labels, its node for a global job, the
// shared writers; the job's timeout is the group's, not each task's.
func newTaskGroup(j *Job, count int, nodes []string, ids swarmIDs, auth string) *taskGroup {
	spec := j.spec
	g := &taskGroup{parallelism: spec.Parallelism, ids: ids, auth: auth,
		stdout: newSharedLines(spec.Stdout), stderr: newSharedLines(spec.Stderr)}
	if g.parallelism <= 0 || g.parallelism > count {
		g.parallelism = count
	}
	for i := range count {
		t := spec
		t.Tasks, t.Global, t.Timeout = 0, false, 0
		t.Name = j.name + "-" + strconv.Itoa(i)
		t.Env = append(slices.Clone(spec.Env), EnvTaskIndex+"="+strconv.Itoa(i), EnvTaskCount+"="+strconv.Itoa(count))
		t.group, t.taskIndex = j.name, i
		if nodes != nil {
			t.Constraints = append(slices.Clone(spec.Constraints), "node.id=="+nodes[i])
		}
		prefix := ""
		if spec.TaskPrefix {
			prefix = "[" + strconv.Itoa(i) + "] "
		}
		t.Stdout, t.Stderr = g.stdout.forTask(prefix), g.stderr.forTask(prefix)
		if fn := spec.OnStatus; fn != nil {
			t.OnStatus = func(s TaskStatus) {
				g.status.Lock()
				defer g.status.Unlock()
				fn(s)
			}
		}
		g.tasks = append(g.tasks, t)
	}
	return g
}

// startTask creates the service of task i and starts its supervisor.
func (j *Job) startTask(ctx context.Context, i int, by string) (*Job, error) {
	r := j.runner
	if !r.beginStart() {
		return nil, fmt.Errorf("oneshot: start task %d of job %s: %w", i, j.name, ErrRunnerClosed)
	}
	spec := j.group.tasks[i]
	task, err := r.create(ctx, spec, spec.Name, j.group.ids, j.group.auth, by)
	if err != nil {
		r.running.Done()
		return nil, err
	}
	return task, nil
}

// groupRun is the state of a job of several tasks, for its supervisor.
type groupRun struct {
	results []TaskResult
	subs    []*Job // by index; nil until started
	ended   chan int
	running int
	// failed is the first task that failed, -1 while none has.
	failed int
}

// superviseGroup is the life of a job of several tasks: start the tasks as
// slots free up, pass a stop on to those in flight, and sum up.
func (j *Job) superviseGroup(first *Job) {
	defer j.finished()
	g := j.group
	run := &groupRun{results: make([]TaskResult, len(g.tasks)), subs: make([]*Job, len(g.tasks)), ended: make(chan int, len(g.tasks)), failed: -1}
	run.launched(0, first)
	next, stopping := 1, j.stopping
	defer func() { g.renew.Stop() }()
	for {
		for ; next < len(g.tasks) && run.running < g.parallelism && !j.stopRequested() && !j.failedFast(run); next++ {
			j.launch(run, next)
		}
		if run.running == 0 {
			break
		}
		select {
		case i := <-run.ended:
			j.taskEnded(run, i)
		case <-stopping:
			stopping = nil
			j.stopAll(run, *j.stopAsked())
		case <-g.renew.C():
			g.renew = j.dataRenewal()
			j.renewGroupData()
		case <-j.detaching:
			j.detachAll(run)
			j.res, j.err = &Result{ExitCode: -1, ServiceName: j.name}, ErrDetached
			return
		}
	}
	for i := next; i < len(g.tasks); i++ {
		run.results[i] = j.neverStarted(i, run)
	}
	j.res, j.err = j.groupOutcome(run)
	j.res.CleanupErr = joinErrors(j.res.CleanupErr, j.clearGroupData())
}

// launch starts task i; a task that cannot be created ends at once with
// the error that says why (and a Runner closed meanwhile stops the job).
func (j *Job) launch(run *groupRun, i int) {
	task, err := j.startTask(context.Background(), i, "the context given to Start")
	switch {
	case errors.Is(err, ErrRunnerClosed):
		j.requestStop(stopReason{err: ErrRunnerClosed, by: "Runner.Close"})
		run.results[i] = j.neverStarted(i, run)
	case err != nil:
		run.results[i] = TaskResult{Index: i, ExitCode: -1, Err: err}
		j.noteFailure(run, i)
	default:
		run.launched(i, task)
	}
}

func (run *groupRun) launched(i int, task *Job) {
	run.subs[i] = task
	run.running++
	go func() {
		<-task.done
		run.ended <- i
	}()
}

// taskEnded takes the result of task i; with WithFailFast, the first
// failure stops the tasks in flight.
func (j *Job) taskEnded(run *groupRun, i int) {
	run.running--
	task := run.subs[i]
	run.results[i] = task.res.Tasks[0]
	j.group.stdout.flush(task.spec.Stdout)
	j.group.stderr.flush(task.spec.Stderr)
	if run.results[i].failed() {
		j.noteFailure(run, i)
	}
}

// noteFailure notes that task i failed; with WithFailFast, the first
// failure stops the tasks in flight (and no more start).
func (j *Job) noteFailure(run *groupRun, i int) {
	if run.failed >= 0 || j.stopRequested() {
		return
	}
	run.failed = i
	if j.spec.FailFast {
		j.stopAll(run, stopReason{err: ErrTaskFailed, by: fmt.Sprintf("task %d of its job failed (WithFailFast)", i)})
	}
}

// detachAll lets every task in flight go (Detach); no more start.
func (j *Job) detachAll(run *groupRun) {
	for _, task := range run.subs {
		if task != nil {
			task.Detach()
		}
	}
}

// stopAll asks every task in flight to stop.
func (j *Job) stopAll(run *groupRun, why stopReason) {
	for _, task := range run.subs {
		if task != nil {
			task.requestStop(why)
		}
	}
}

func (j *Job) stopRequested() bool { return j.stopAsked() != nil }

// stopAsked is why the job was asked to stop, or nil: read once the
// stopping channel says it is set.
func (j *Job) stopAsked() *stopReason {
	select {
	case <-j.stopping:
		return j.stopWhy
	default:
		return nil
	}
}

func (j *Job) failedFast(run *groupRun) bool { return j.spec.FailFast && run.failed >= 0 }

// neverStarted is the result of a task that the job stopped before its
// turn came.
func (j *Job) neverStarted(i int, run *groupRun) TaskResult {
	why := stopReason{err: ErrTaskFailed, by: fmt.Sprintf("task %d of its job failed (WithFailFast)", run.failed)}
	if stop := j.stopAsked(); stop != nil {
		why = *stop
	}
	name := j.group.tasks[i].Name
	return TaskResult{Index: i, ExitCode: -1, Err: &StopError{Job: name, Reason: why.err, By: why.by, Cause: why.cause,
		Result: &Result{ExitCode: -1, ServiceName: name}}}
}

// failed says the task did not succeed: it exited non-zero, or ended
// without an exit code, or was stopped.
func (t TaskResult) failed() bool {
	var exit *ExitError
	var task *TaskError
	var stop *StopError
	return t.ExitCode != 0 || errors.As(t.Err, &exit) || errors.As(t.Err, &task) || errors.As(t.Err, &stop) ||
		(t.Err != nil && !errors.Is(t.Err, ErrOutputIncomplete))
}

// groupOutcome sums the tasks' results up into the job's Result and error.
func (j *Job) groupOutcome(run *groupRun) (*Result, error) {
	res := &Result{ServiceName: j.name, State: StateComplete, Tasks: run.results}
	if i := firstFailed(run.results); i >= 0 {
		res.ExitCode, res.State = run.results[i].ExitCode, run.results[i].State
	}
	var cleanup []error
	for i, t := range run.results {
		res.Attempts += len(t.History)
		res.StartedAt = earliest(res.StartedAt, t.StartedAt)
		res.FinishedAt = latest(res.FinishedAt, t.FinishedAt)
		if sub := run.subs[i]; sub != nil && sub.res.CleanupErr != nil {
			cleanup = append(cleanup, sub.res.CleanupErr)
		}
	}
	res.CleanupErr = errors.Join(cleanup...)
	var errs []error
	if stop := j.stopAsked(); stop != nil && anyStopped(run.results) {
		errs = append(errs, groupStopError(j.name, *stop, res, run.results))
	}
	if failures := tasksErrors(run.results); failures != nil {
		errs = append(errs, &TasksError{Job: j.name, Count: len(run.results), Errs: failures})
	}
	return res, joinErrors(errs...)
}

// groupStopError is the job's *StopError: the stop that ended its tasks.
func groupStopError(name string, why stopReason, res *Result, results []TaskResult) *StopError {
	e := &StopError{Job: name, Reason: why.err, By: why.by, Cause: why.cause, Result: res}
	var problems []string
	for _, t := range results {
		var stop *StopError
		if errors.As(t.Err, &stop) && stop.StillRunning {
			e.StillRunning = true
			problems = append(problems, fmt.Sprintf("task %d: %s", t.Index, stop.Problem))
		}
	}
	e.Problem = strings.Join(problems, "; ")
	return e
}

func anyStopped(results []TaskResult) bool {
	for _, t := range results {
		var stop *StopError
		if errors.As(t.Err, &stop) {
			return true
		}
	}
	return false
}

// tasksErrors are the tasks' errors by index (nil for a task that
// succeeded with its whole output), leaving out the stops that the job's
// own StopError reports; nil when there is none.
func tasksErrors(results []TaskResult) []error {
	var errs []error
	found := false
	for _, t := range results {
		err := t.Err
		var stop *StopError
		if errors.As(err, &stop) && !errors.Is(err, ErrTaskFailed) {
			err = nil
		}
		errs = append(errs, err)
		found = found || err != nil
	}
	if !found {
		return nil
	}
	return errs
}

// firstFailed is the first task by index that failed on its own, or else
// the first that was stopped because another failed (WithFailFast) or
// because the job was stopped; -1 when all succeeded.
func firstFailed(results []TaskResult) int {
	first := -1
	for i, t := range results {
		var stop *StopError
		switch {
		case !t.failed():
		case !errors.As(t.Err, &stop):
			return i
		case first < 0:
			first = i
		}
	}
	return first
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
