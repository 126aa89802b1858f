package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// Jobs that outlive their caller, on the local swarm: Runners made apart
// from the shared one, each with a client of its own, stand for other
// processes, all alive.

// processRunner returns a Runner with a client of its own, as another
// process on the same swarm would have.
func processRunner(t *testing.T) *oneshot.Runner {
	t.Helper()
	c, err := client.New(client.FromEnv)
	require.NoError(t, err)
	r, err := oneshot.NewRunner(oneshot.WithClient(c), oneshot.WithLogger(testLogger()))
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = r.Close()
		_ = c.Close()
	})
	return r
}

// gate is a directory bind-mounted into a job, in which the test drops a
// file that the job waits for (jobkit waitfile): the job runs until the
// test opens the gate, whatever the machine's speed.
type gate struct{ dir string }

func newGate(t *testing.T) gate {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	return gate{dir}
}

func (g gate) mount() oneshot.Option { return oneshot.WithBind(g.dir, "/gate") }

func (g gate) open(t *testing.T) {
	require.NoError(t, os.WriteFile(filepath.Join(g.dir, "open"), nil, 0o644))
}

// gatedJob prints before, waits for the gate, prints after, exits code.
func gatedJob(before, after, code string) oneshot.JobSpec {
	return oneshot.JobSpec{Image: jobkitImage, Command: []string{"echo", before, "--", "waitfile", "/gate/open", "--", "echo", after, "--", "exit", code}}
}

// runningStatus returns an option that reports on ch when the job runs.
func runningStatus(ch chan<- struct{}) oneshot.Option {
	var once sync.Once
	return oneshot.WithStatusFunc(func(s oneshot.TaskStatus) {
		if s.State == oneshot.StateRunning {
			once.Do(func() { close(ch) })
		}
	})
}

func TestAttachTwoProcessesEachGetTheWholeResultWhilePruneRuns(t *testing.T) {
	requireNothingLeft(t)
	ctx := testContext(t, 3*time.Minute)
	g := newGate(t)
	starter, attacher, pruner := processRunner(t), processRunner(t), processRunner(t)
	running := make(chan struct{})
	job1, err := starter.Start(ctx, gatedJob("before", "after", "7"), testLabel(t), g.mount(), runningStatus(running))
	require.NoError(t, err)
	<-running
	job2, err := attacher.Attach(ctx, job1.Name())
	require.NoError(t, err)
	require.True(t, job2.Attached())

	// A third process prunes in a loop all along: it must not take the job
	// from under its waiters.
	pruneDone, stopPrune := make(chan []string), make(chan struct{})
	go func() {
		var pruned []string
		for {
			select {
			case <-stopPrune:
				pruneDone <- pruned
				return
			default:
			}
			list, err := pruner.Prune(ctx, oneshot.PruneLabel(testLabelPair(t)))
			assert.NoError(t, err)
			for _, p := range list {
				pruned = append(pruned, p.Name)
			}
		}
	}()
	g.open(t)
	results := make(chan struct {
		res *oneshot.Result
		err error
	}, 2)
	for _, j := range []*oneshot.Job{job1, job2} {
		go func() {
			res, err := j.Wait(ctx)
			results <- struct {
				res *oneshot.Result
				err error
			}{res, err}
		}()
	}
	for range 2 {
		got := <-results
		var exitErr *oneshot.ExitError
		require.ErrorAs(t, got.err, &exitErr)
		assert.Equal(t, 7, exitErr.ExitCode())
		assert.Equal(t, "before\nafter\n", string(got.res.Stdout), "each waiter reads the whole output")
		assert.Nil(t, got.res.CleanupErr)
	}
	close(stopPrune)
	assert.Empty(t, <-pruneDone, "Prune never removed the job while a process waited on it")
}

func TestAnIdempotencyKeyRacedByTenStartsMakesOneJob(t *testing.T) {
	requireNothingLeft(t)
	ctx := testContext(t, 3*time.Minute)
	g := newGate(t)
	key := "migrate-" + randomSuffix()
	runners := []*oneshot.Runner{processRunner(t), processRunner(t)}
	var wg sync.WaitGroup
	jobs := make(chan *oneshot.Job, 10)
	for i := range 10 {
		wg.Go(func() {
			job, err := runners[i%2].Start(ctx, gatedJob("migrating", "migrated", "0"), testLabel(t), g.mount(), oneshot.WithIdempotencyKey(key))
			if assert.NoError(t, err) {
				jobs <- job
			}
		})
	}
	wg.Wait()
	close(jobs)
	services, err := localDocker(t).ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", oneshot.LabelIdempotencyKey+"="+key)})
	require.NoError(t, err)
	require.Len(t, services.Items, 1, "one job for one key")
	started := 0
	var all []*oneshot.Job
	for j := range jobs {
		all = append(all, j)
		if !j.Attached() {
			started++
		}
		assert.Equal(t, services.Items[0].ID, j.ServiceID())
	}
	require.Len(t, all, 10)
	assert.Equal(t, 1, started, "one Start created it; nine attached")
	g.open(t)
	for _, j := range all {
		res, err := j.Wait(ctx)
		require.NoError(t, err)
		assert.Equal(t, "migrating\nmigrated\n", string(res.Stdout))
	}
}

func TestDetachThenAttachOnceTheJobHasEnded(t *testing.T) {
	requireNothingLeft(t)
	ctx := testContext(t, 2*time.Minute)
	job1, err := processRunner(t).Start(ctx, oneshot.JobSpec{Image: jobkitImage, Command: []string{"echo", "hi", "--", "stderr", "oops", "--", "exit", "3"}}, testLabel(t))
	require.NoError(t, err)
	job1.Detach() // the starting process goes away
	_, err = job1.Wait(ctx)
	require.ErrorIs(t, err, oneshot.ErrDetached)
	awaitTaskEnded(t, ctx, job1.ServiceID())

	job2, err := processRunner(t).Attach(ctx, job1.Name())
	require.NoError(t, err)
	res, err := job2.Wait(ctx)
	var exitErr *oneshot.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 3, exitErr.ExitCode())
	assert.Equal(t, "hi\n", string(res.Stdout))
	assert.Equal(t, "oops\n", string(res.Stderr))
	_, err = processRunner(t).Attach(ctx, job1.Name())
	assert.ErrorIs(t, err, oneshot.ErrServiceNotFound, "gone once its last waiter read it")
}

// awaitTaskEnded waits until the job service's task has ended.
func awaitTaskEnded(t *testing.T, ctx context.Context, serviceID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		tasks, err := localDocker(t).TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", serviceID)})
		return err == nil && len(tasks.Items) > 0 && oneshot.TaskState(tasks.Items[0].Status.State).Terminal()
	}, time.Minute, 100*time.Millisecond)
}

func TestStopFromAnotherProcessStopsTheJobForEveryWaiter(t *testing.T) {
	requireNothingLeft(t)
	ctx := testContext(t, 2*time.Minute)
	running := make(chan struct{})
	job1, err := processRunner(t).Start(ctx, oneshot.JobSpec{Image: jobkitImage, Command: []string{"onterm", "0s", "stopping", "--", "echo", "started", "--", "sleep", "5m"}},
		testLabel(t), runningStatus(running), oneshot.WithStopGracePeriod(5*time.Second))
	require.NoError(t, err)
	<-running
	job2, err := processRunner(t).Attach(ctx, job1.ServiceID())
	require.NoError(t, err)
	job2.Stop()
	res2, err2 := job2.Wait(ctx)
	var stopErr *oneshot.StopError
	require.ErrorAs(t, err2, &stopErr)
	assert.ErrorIs(t, err2, oneshot.ErrJobStopped)
	assert.Equal(t, 143, res2.ExitCode)

	res1, err1 := job1.Wait(ctx)
	var taskErr *oneshot.TaskError
	require.ErrorAs(t, err1, &taskErr, "%v", err1)
	assert.ErrorIs(t, err1, oneshot.ErrJobStopped)
	for _, res := range []*oneshot.Result{res1, res2} {
		assert.Equal(t, "started\nstopping\nstopped by terminated after 0s\n", string(res.Stdout), "each waiter has the whole output")
	}
}

func TestJobsListsTheJobsInFlight(t *testing.T) {
	requireNothingLeft(t)
	ctx := testContext(t, 2*time.Minute)
	g := newGate(t)
	r := processRunner(t)
	running := make(chan struct{})
	job, err := r.Start(ctx, gatedJob("a", "b", "0"), testLabel(t), g.mount(), runningStatus(running), oneshot.WithIdempotencyKey("ps-"+randomSuffix()))
	require.NoError(t, err)
	<-running
	jobs, err := processRunner(t).Jobs(ctx)
	require.NoError(t, err)
	var mine *oneshot.JobInfo
	for i := range jobs {
		if jobs[i].ServiceID == job.ServiceID() {
			mine = &jobs[i]
		}
	}
	require.NotNil(t, mine)
	assert.Equal(t, oneshot.StateRunning, mine.State)
	assert.NotEmpty(t, mine.NodeName)
	assert.Equal(t, 1, mine.Waiters)
	assert.Equal(t, jobkitImage, strings.Split(mine.Image, "@")[0])
	var logs strings.Builder
	require.NoError(t, processRunner(t).Logs(ctx, job.Name(), &logs, &logs))
	assert.Equal(t, "a\n", logs.String())
	g.open(t)
	_, err = job.Wait(ctx)
	require.NoError(t, err)
}
