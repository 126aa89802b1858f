package integration

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// Jobs of many tasks on the 3-node DinD swarm (a manager, worker1 and
// worker2, whose hostnames are their roles), through the shared Runner on
// the manager. Like the other multi-node tests they are not parallel.

// nodesByHostname returns the swarm's nodes in the order of their
// hostnames: the order of the tasks of a global job.
func (s *dindSwarm) nodesByHostname() []*dindNode {
	nodes := s.nodes()
	slices.SortFunc(nodes, func(a, b *dindNode) int { return cmp.Compare(a.role, b.role) })
	return nodes
}

// hostnames maps the swarm's node IDs to their hostnames.
func (s *dindSwarm) hostnames() map[string]string {
	m := map[string]string{}
	for _, n := range s.nodes() {
		m[n.nodeID] = n.role
	}
	return m
}

// TestDinDTasksParallelism runs 12 tasks, 3 at a time, each printing its
// index and exiting with its index modulo 3: each task's code and output,
// and never more than 3 at once, by the tasks' times and by the job's
// services sampled on the swarm while it runs.
func TestDinDTasksParallelism(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 5*time.Minute)
	image := s.jobImage
	const count, parallelism = 12, 3
	name := jobName("oneshot-dtasks")
	sampler := sampleJobServices(ctx, s.manager.api, name, 100*time.Millisecond)
	live := &liveBuffer{}
	start := time.Now()
	res, err := s.runner.Run(ctx, oneshot.JobSpec{Image: image, Command: indexedJob},
		oneshot.WithName(name), oneshot.WithTasks(count), oneshot.WithParallelism(parallelism),
		oneshot.WithStdout(live), oneshot.WithTaskPrefix())
	took := time.Since(start)
	most := sampler.stop(t)

	checkIndexedJob(t, name, count, res, err)
	checkPrefixedLines(t, live.String(), count)
	assert.LessOrEqual(t, most, parallelism, "the job's services at once, sampled on the swarm")
	assert.Positive(t, most)
	ranAtOnce := mostAtOnce(res.Tasks)
	assert.LessOrEqual(t, ranAtOnce, parallelism, "tasks running at once, by their StartedAt and FinishedAt")
	perNode := map[string]int{}
	hostnames := s.hostnames()
	for _, task := range res.Tasks {
		perNode[hostnames[task.NodeID]]++
	}
	t.Logf("%d tasks, %d at a time, in %s; at most %d ran at once by their times; tasks per node: %v",
		count, parallelism, took.Round(10*time.Millisecond), ranAtOnce, perNode)
}

// TestDinDTasksGlobal runs a global job whose tasks print the hostname of
// their node (a swarm template): one task per node, numbered in the order
// of the hostnames; with node.role==worker, one per worker.
func TestDinDTasksGlobal(t *testing.T) {
	s := dindTest(t)
	for _, c := range []struct {
		name        string
		constraints []string
		nodes       []*dindNode
	}{
		{"every node", nil, s.nodesByHostname()},
		{"workers", []string{"node.role==worker"}, s.nodesByHostname()[1:]},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := testContext(t, 3*time.Minute)
			opts := []oneshot.Option{oneshot.WithGlobal(), oneshot.WithEnv("NODE", "{{.Node.Hostname}}")}
			for _, constraint := range c.constraints {
				opts = append(opts, oneshot.WithConstraint(constraint))
			}
			res, err := s.runner.Run(ctx, oneshot.JobSpec{Image: s.jobImage, Command: []string{"env", "NODE", oneshot.EnvTaskIndex, oneshot.EnvTaskCount}}, opts...)
			require.NoError(t, err)
			require.Len(t, res.Tasks, len(c.nodes), "a task per node")
			nodeIDs := map[string]bool{}
			for i, task := range res.Tasks {
				n := c.nodes[i]
				assert.Equal(t, i, task.Index)
				assert.Equal(t, n.nodeID, task.NodeID, "task %d runs on %s", i, n.role)
				assert.Equal(t, fmt.Sprintf("NODE=%s\n%s=%d\n%s=%d\n", n.role, oneshot.EnvTaskIndex, i, oneshot.EnvTaskCount, len(c.nodes)),
					string(task.Stdout), "task %d", i)
				assert.Equal(t, 0, task.ExitCode)
				assert.Equal(t, oneshot.StateComplete, task.State)
				nodeIDs[task.NodeID] = true
			}
			assert.Len(t, nodeIDs, len(c.nodes), "each task on a node of its own")
			assert.Equal(t, 0, res.ExitCode)
			assert.Equal(t, oneshot.StateComplete, res.State)
		})
	}
}

// TestDinDTasksRetriesOnWorkers runs 2 tasks on the workers, each retried
// twice, every attempt printing its swarm task ID and node and exiting 1:
// each task's History holds its 3 attempts, each with its own output,
// read from a worker through the manager.
func TestDinDTasksRetriesOnWorkers(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, 3*time.Minute)
	res, err := s.runner.Run(ctx, oneshot.JobSpec{Image: s.jobImage, Command: []string{"env", "ATTEMPT", "NODE", oneshot.EnvTaskIndex, "--", "exit", "1"}},
		oneshot.WithTasks(2), oneshot.WithRetries(2, 0), oneshot.WithConstraint("node.role==worker"),
		oneshot.WithEnv("ATTEMPT", "{{.Task.ID}}"), oneshot.WithEnv("NODE", "{{.Node.Hostname}}"))
	require.NotNil(t, res, "%v", err)
	workers := map[string]string{}
	for _, w := range s.workers {
		workers[w.nodeID] = w.role
	}
	checkRetriedTasks(t, res, err, 2, 3, workers)
}
