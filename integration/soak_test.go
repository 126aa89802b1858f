package integration

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// The soak (issue 12): hundreds of jobs from 20 goroutines on one Runner,
// of every kind at once (exit 0, exit codes 1-255, output of 0 B to 2 MiB
// on both streams, timeouts, cancels at random moments, a missing image,
// an unschedulable constraint, a secret made for the job), while another
// process runs Prune in a loop. Every job must end as its kind says, with
// its output byte for byte, and nothing of the jobs may be left on any
// node. `make test` runs a short form; ONESHOT_SOAK=full (`make soak`) the
// full one. ONESHOT_SOAK_SEED makes a run's plan again.

// soakGoroutines is how many goroutines share the soak's Runner.
const soakGoroutines = 20

// soakFullJobs is the full form's number of jobs on each swarm.
const soakFullJobs = 300

// soakJobCount is how many jobs the soak runs: short unless ONESHOT_SOAK
// is "full".
func soakJobCount(short int) int {
	if os.Getenv("ONESHOT_SOAK") == "full" {
		return soakFullJobs
	}
	return short
}

// soakSeed is ONESHOT_SOAK_SEED, or a new seed.
func soakSeed(t *testing.T) uint64 {
	if s := os.Getenv("ONESHOT_SOAK_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "ONESHOT_SOAK_SEED")
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// soakTarget is the swarm a soak runs on.
type soakTarget struct {
	runner *oneshot.Runner
	// manager is the engine the Runner talks to; nodes are all the
	// swarm's engines, by name, where the jobs' containers may be.
	manager *client.Client
	nodes   map[string]*client.Client
	// image is the job image as the nodes name it; missingImage one no
	// node has or can pull.
	image, missingImage string
	// label (KEY=VALUE) marks the soak's jobs, and their data and
	// containers; opts are every job's options (the label, a placement).
	label string
	opts  []oneshot.Option
	// dockerHost is the manager's address for the pruning process (empty:
	// the test's own environment).
	dockerHost string
	// workers are the nodes the jobs must run on (none: any).
	workers []string
}

func TestSoakSingleNode(t *testing.T) {
	cli := localDocker(t)
	target := &soakTarget{
		runner:       processRunner(t),
		manager:      cli,
		nodes:        map[string]*client.Client{"local engine": cli},
		image:        jobkitImage,
		missingImage: "oneshot-soak-no-such-image:v0",
		label:        testLabelPair(t),
		opts:         []oneshot.Option{testLabel(t)},
	}
	runSoak(t, target, soakJobCount(60))
}

func TestSoakDinD(t *testing.T) {
	s := dindTest(t)
	r, err := oneshot.NewRunner(oneshot.WithClient(s.manager.api))
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	target := &soakTarget{
		runner:       r,
		manager:      s.manager.api,
		nodes:        map[string]*client.Client{},
		image:        s.jobImage,
		missingImage: s.registry.Image("oneshot-soak-no-such-image:v0"),
		label:        testLabelPair(t),
		opts:         []oneshot.Option{testLabel(t), oneshot.WithConstraint("node.role==worker")},
		dockerHost:   s.manager.Host(),
	}
	for _, n := range s.nodes() {
		target.nodes[n.role] = n.api
	}
	for _, w := range s.workers {
		target.workers = append(target.workers, w.nodeID)
	}
	runSoak(t, target, soakJobCount(30))
}

// runSoak runs n planned jobs on target while another process prunes,
// then checks each outcome and what is left, and reports the counts.
func runSoak(t *testing.T, target *soakTarget, n int) {
	ctx := testContext(t, 15*time.Minute)
	seed := soakSeed(t)
	t.Logf("seed %d (ONESHOT_SOAK_SEED=%d plans these %d jobs again)", seed, seed, n)
	jobs := planSoak(seed, n)
	pruner := startSoakPruner(t, target)
	start := time.Now()
	outcomes := runSoakJobs(ctx, target, jobs)
	makespan := time.Since(start)
	pruned := pruner.stop(t)
	left := soakLeftovers(t, ctx, target)
	report := &soakReport{seed: seed, outcomes: outcomes, makespan: makespan, prune: pruned, left: left}
	report.log(t)
	report.fail(t)
}

// runSoakJobs runs the jobs from soakGoroutines goroutines and returns
// their outcomes, checked, by index.
func runSoakJobs(ctx context.Context, target *soakTarget, jobs []*soakJob) []*soakOutcome {
	outcomes := make([]*soakOutcome, len(jobs))
	next := make(chan *soakJob)
	var wg sync.WaitGroup
	for range soakGoroutines {
		wg.Go(func() {
			for j := range next {
				outcomes[j.index] = runSoakJob(ctx, target, j)
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	return outcomes
}

// jobSpec is the job's spec and options on the target, its output going
// to live.
func (target *soakTarget) jobSpec(j *soakJob, live *soakLive) (oneshot.JobSpec, []oneshot.Option) {
	spec := oneshot.JobSpec{Image: target.image, Command: j.command()}
	opts := append(slices.Clone(target.opts), oneshot.WithStdout(live.stream(false)), oneshot.WithStderr(live.stream(true)))
	switch j.kind {
	case soakMissingImage:
		spec.Image = target.missingImage
	case soakUnschedulable:
		opts = append(opts, oneshot.WithConstraint("node.labels.oneshot-soak-nowhere==true"), oneshot.WithScheduleTimeout(j.schedule))
	case soakTimeout:
		opts = append(opts, oneshot.WithTimeout(j.timeout))
	case soakSecret:
		opts = append(opts, oneshot.WithSecretData("soak", j.secret))
	}
	return spec, opts
}

// runSoakJob runs one job and checks its outcome.
func runSoakJob(ctx context.Context, target *soakTarget, j *soakJob) *soakOutcome {
	live := &soakLive{}
	spec, opts := target.jobSpec(j, live)
	o := &soakOutcome{job: j}
	start := time.Now()
	if j.kind == soakCancel {
		o.res, o.err, o.cancelled = runCancelled(ctx, target.runner, spec, j.cancel, live, opts...)
	} else {
		o.res, o.err = target.runner.Run(ctx, spec, opts...)
	}
	o.took = time.Since(start)
	o.liveOut, o.liveErr = live.output()
	o.check()
	if o.problem == nil {
		o.problem = target.ranOnWorker(o.res)
	}
	if stillRunning(o.err) {
		o.evidence = fmt.Sprintf("its Result's stderr ends %s; %s", tail(o.res.Stderr), target.taskEvidence(ctx, o.res.ServiceID))
		o.endedAfter = target.awaitContainersEnded(ctx, o.res.ServiceID)
	}
	o.forgetOutput()
	return o
}

// runCancelled starts a job, cancels its context at the moment, once
// Start has returned, and waits for it; cancelled says the cancel came
// before Wait returned.
func runCancelled(ctx context.Context, r *oneshot.Runner, spec oneshot.JobSpec, m soakMoment, live *soakLive, opts ...oneshot.Option) (*oneshot.Result, error, bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &soakCanceller{moment: m, cancel: cancel}
	switch m.kind {
	case atState:
		opts = append(opts, c.atState())
	case afterBytes:
		live.at(m.bytes, c.reach)
	}
	job, err := r.Start(ctx, spec, opts...)
	if err != nil {
		return nil, err, c.disarm()
	}
	c.arm()
	res, err := job.Wait(ctx)
	return res, err, c.disarm()
}

// ranOnWorker checks that a job that got a node ran on one of the
// target's workers.
func (target *soakTarget) ranOnWorker(res *oneshot.Result) error {
	if len(target.workers) == 0 || res == nil || res.NodeID == "" || slices.Contains(target.workers, res.NodeID) {
		return nil
	}
	return fmt.Errorf("ran on node %s, not on a worker %v", res.NodeID, target.workers)
}

// awaitContainersEnded waits until no container of the service runs on
// any node (woken by their container events, bounded by
// soakContainersBound) and says how long that took, or -1 if it did not
// happen.
func (target *soakTarget) awaitContainersEnded(ctx context.Context, serviceID string) time.Duration {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, soakContainersBound)
	defer cancel()
	ofService := make(client.Filters).Add("label", "com.docker.swarm.service.id="+serviceID)
	for _, api := range target.nodes {
		err := waitUntil(ctx, api, ofService.Clone().Add("type", "container"), func(ctx context.Context) (bool, error) {
			running, err := runningContainers(ctx, api, serviceID)
			return err == nil && len(running) == 0, err
		})
		if err != nil {
			return -1
		}
	}
	return time.Since(start)
}

// taskEvidence says, for a job Wait gave up on, what the swarm said of its
// tasks and what the nodes said of its containers right after.
func (target *soakTarget) taskEvidence(ctx context.Context, serviceID string) string {
	var says []string
	tasks, err := target.manager.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", serviceID)})
	if err != nil {
		says = append(says, fmt.Sprintf("task list: %v", err))
	} else {
		for _, task := range tasks.Items {
			says = append(says, fmt.Sprintf("task %.12s %s (desired %s) since %s", task.ID, task.Status.State, task.DesiredState, task.Status.Timestamp.Format(time.RFC3339Nano)))
		}
	}
	ofService := make(client.Filters).Add("label", "com.docker.swarm.service.id="+serviceID)
	for name, api := range target.nodes {
		list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: ofService})
		if err != nil {
			continue
		}
		for _, c := range list.Items {
			inspect, err := api.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
			if err != nil || inspect.Container.State == nil {
				continue
			}
			st := inspect.Container.State
			says = append(says, fmt.Sprintf("container %.12s on %s %s, exit %d, finished %s", c.ID, name, st.Status, st.ExitCode, st.FinishedAt))
		}
	}
	return fmt.Sprintf("at %s: %s", time.Now().Format(time.RFC3339Nano), strings.Join(says, "; "))
}
