// Package oneshot runs one-shot jobs on Docker Swarm: a container that must
// run once to the end (a database migration, a backup, a batch step), with
// its exit code and output returned and nothing left behind.
//
//	res, err := oneshot.Run(ctx, oneshot.JobSpec{
//		Image:   "migrations:v42",
//		Command: []string{"migrate", "up"},
//	}, oneshot.WithNetwork("backend"), oneshot.WithSecret("db-password"))
//
// Run creates a service of one task that the swarm never restarts (unless
// WithRetries asks), waits for the task to end, reads its stdout and stderr
// apart, and removes the service, on success, failure, timeout or
// cancellation alike. Like os/exec, Run is Start followed by Wait; a
// non-zero exit returns the Result with an *ExitError; a task that ends
// without an exit code (rejected, image not found, no suitable node, node
// lost) returns a *TaskError that matches ErrImageNotFound,
// ErrUnschedulable, ErrNodeLost...; bad input returns a *SpecError naming
// the field before anything is created on the swarm.
//
// The package-level functions use a Runner made from the environment
// (DOCKER_HOST and friends). A Runner shares one engine event stream and one
// task poll among all its jobs, so that many jobs in flight do not multiply
// the requests sent to the manager: events wake waiters at once for tasks on
// the node oneshot talks to, the poll (backing off from 20 ms to 1 s while
// nothing changes) sees the tasks on every other node and is the truth, and
// a node going down ends its job with ErrNodeLost instead of a wait that
// never ends.
//
// Output reaches the writers given with WithStdout and WithStderr live, and
// the Result whole (up to WithOutputLimit). oneshot reads it through the
// engine's logs, so a job that prints more than its node's log driver keeps
// (json-file's max-size and max-file) loses the start of it: Wait reports
// ErrOutputIncomplete when it can tell, and WithLogDriver keeps more. Services that outlive their
// process (WithKeep, a crash) are found by their labels and removed by Prune.
package oneshot
