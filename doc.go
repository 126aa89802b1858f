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
// cancellation alike. Like os/exec, Run is Start followed by Wait, and err is
// nil exactly when the job exited 0 and its whole output was read: a
// non-zero exit returns the Result with an *ExitError; a task that ends
// without an exit code (rejected, image not found, no suitable node, node
// lost) returns a *TaskError that matches ErrImageNotFound,
// ErrUnschedulable, ErrNodeLost...; bad input returns a *SpecError naming
// the field before anything is created on the swarm.
//
// The job is over when Run returns. From Start on, each job has a
// supervisor that follows it, streams its output to the writers given with
// WithStdout and WithStderr, and stops it when the context is done, its
// WithTimeout expires or its Runner is closed: the swarm sends SIGTERM (then
// SIGKILL after WithStopGracePeriod), the supervisor waits until the job has
// ended, reads what it printed while stopping, and only then removes its
// service. Wait then returns a *StopError that matches exactly one of
// context.Canceled, context.DeadlineExceeded and ErrRunnerClosed, with the
// job's Result.
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
// Output is read through the engine's logs: followed live, then read whole
// once the job has ended and lined up entry by entry with what was
// followed, so that every byte reaches the writers and the Result once, in
// order. A job that prints more than its node's log driver keeps
// (json-file's max-size and max-file) may lose the start of it, and the
// engine's live follow may skip part of a log that rotates: an *OutputError
// (ErrOutputIncomplete) then says which bytes, and WithLogDriver keeps more.
// Services that outlive their process (WithKeep, a crash) are found by their
// labels and removed by Prune.
//
// A job may run several tasks (WithTasks, WithParallelism, WithGlobal):
// each task is a service of its own, supervised as a job of one task is,
// with its index in ONESHOT_TASK_INDEX, and Result.Tasks holds each task's
// exit code, output and attempts.
//
// A job outlives the process that started it: Attach gives any process a
// Job for a job in flight (or ended, while its service exists), whose Wait
// returns the Result that Run would have; WithIdempotencyKey makes Start
// attach to the job of the same key instead of starting a second one (two
// pipelines deploying at once run their migration once); Job.Detach leaves
// a job running, Job.Stop stops it for all its waiters. Each waiter reads
// the whole Result, and the last one removes the service: each holds a
// lease on it while it waits (its Runner's presence holds the leases of
// long jobs), which Prune respects.
//
// FromService makes a JobSpec from a deployed service's own spec (a stack's
// app, say), and FromCompose from a service of a compose file with `docker
// stack deploy`'s naming: the job then runs once with that service's image,
// environment, networks, secrets, configs and mounts, as the `docker stack
// run` that Docker never shipped, while the stack's own services are left
// alone.
package oneshot
