package oneshot_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/oneshot-go/oneshot"
)

// Run a job, get its exit code and output; the service is removed.
func ExampleRun() {
	ctx := context.Background()
	res, err := oneshot.Run(ctx, oneshot.JobSpec{
		Image:   "registry.example.com/migrations:v42",
		Command: []string{"migrate", "up"},
	},
		oneshot.WithNetwork("backend"),
		oneshot.WithSecret("db-password"),
		oneshot.WithTimeout(10*time.Minute),
	)
	var exitErr *oneshot.ExitError
	switch {
	case errors.As(err, &exitErr):
		log.Fatalf("migrations failed with code %d:\n%s", exitErr.ExitCode(), res.Stderr)
	case err != nil:
		log.Fatal(err) // the message says what to do
	}
	fmt.Printf("%s", res.Stdout)
}

// Start a job, stream its output while it runs, then Wait for it.
func ExampleStart() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	job, err := oneshot.Start(ctx, oneshot.JobSpec{Image: "backup:v3", Command: []string{"/backup.sh", "--full"}},
		oneshot.WithStdout(os.Stdout), oneshot.WithStderr(os.Stderr),
		oneshot.WithStatusFunc(func(s oneshot.TaskStatus) { log.Printf("backup %s on %s", s.State, s.NodeName) }),
	)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("started service %s", job.ServiceID())
	res, err := job.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("backup done on node %s in %s", res.NodeID, res.FinishedAt.Sub(res.CreatedAt))
}

// One Runner per swarm: its jobs share one event stream and one task poll.
func ExampleNewRunner() {
	r, err := oneshot.NewRunner() // DOCKER_HOST and friends
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for _, page := range []string{"https://example.com/", "https://example.org/"} {
		res, err := r.Run(context.Background(), oneshot.JobSpec{Image: "hrefcounter:v1", Command: []string{page}})
		if err != nil {
			log.Print(err)
			continue
		}
		fmt.Printf("%s: %s", page, res.Stdout)
	}
}

// A migration that must run once, however many pipelines deploy at once:
// the key names the job, so a second Start attaches to the job in flight
// and both get its Result.
func ExampleWithIdempotencyKey() {
	res, err := oneshot.Run(context.Background(), oneshot.JobSpec{Image: "migrations:v42", Command: []string{"migrate", "up"}},
		oneshot.WithIdempotencyKey("migrate-to-v42"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", res.Stdout)
}

// Pick up a job that another process started and left (a deploy tool that
// was killed, `oneshot run --detach`): its output from the beginning, its
// exit code, and its service removed once read.
func ExampleAttach() {
	job, err := oneshot.Attach(context.Background(), "oneshot-key-3c5e0d1f2a4b6c8d9e0f1a2b", oneshot.WithStdout(os.Stdout))
	if err != nil {
		log.Fatal(err)
	}
	res, err := job.Wait(context.Background())
	var exitErr *oneshot.ExitError
	switch {
	case errors.As(err, &exitErr):
		log.Fatalf("the job exited %d", exitErr.ExitCode())
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println("done on node", res.NodeID)
}

// Remove the job services left behind (WithKeep, a process that died) a day
// after they finished.
func ExampleRunner_Prune() {
	r, err := oneshot.NewRunner()
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	pruned, err := r.Prune(context.Background(), oneshot.PruneOlderThan(24*time.Hour))
	for _, p := range pruned {
		fmt.Printf("removed %s (%s)\n", p.Name, p.State)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// Bad input is refused before anything is created on the swarm, with the
// field and the fix.
func ExampleJobSpec_Validate() {
	spec := oneshot.JobSpec{
		Image:  "alpine:3.20",
		Env:    []string{"MODE=full", "VERBOSE"},
		Mounts: []oneshot.Mount{{Type: oneshot.MountBind, Source: "./data", Target: "/data"}},
	}
	err := spec.Validate()
	var specErr *oneshot.SpecError
	if errors.As(err, &specErr) {
		fmt.Println("first problem in", specErr.Field)
	}
	fmt.Println(err)
	// Output:
	// first problem in Env[1]
	// oneshot: JobSpec.Env[1]: "VERBOSE" is not KEY=VALUE; write KEY=VALUE, or use WithEnvFile for a file where KEY alone takes your own value
	// oneshot: JobSpec.Mounts[0].Source: bind source "./data" is not an absolute path; give the absolute path on the node, or use MountVolume for a named volume
}

// A non-zero exit is an *ExitError carrying the code and the end of stderr;
// the Result comes with it, as with os/exec.
func ExampleExitError() {
	res, err := oneshot.Run(context.Background(), oneshot.JobSpec{Image: "app:v1", Command: []string{"check"}})
	var exitErr *oneshot.ExitError
	if errors.As(err, &exitErr) {
		fmt.Printf("check failed (%d): %s\nfull output: %s", exitErr.ExitCode(), exitErr.Stderr, res.Stdout)
	}
}

// A task that ends without an exit code of its own is a *TaskError; ask
// what happened with errors.Is, not by reading the swarm's messages.
func ExampleTaskError() {
	_, err := oneshot.Run(context.Background(), oneshot.JobSpec{Image: "registry.example.com/app:v1"},
		oneshot.WithConstraint("node.labels.gpu==true"),
		oneshot.WithScheduleTimeout(time.Minute),
	)
	switch {
	case errors.Is(err, oneshot.ErrImageNotFound):
		log.Fatal("push the image first: ", err)
	case errors.Is(err, oneshot.ErrUnschedulable):
		log.Fatal("no GPU node free within a minute: ", err)
	case errors.Is(err, oneshot.ErrNodeLost):
		log.Print("the node went down; running the job again")
	case err != nil:
		log.Fatal(err)
	}
}

// A stack's migration, run once with the environment, networks, secrets
// and configs of the stack's app service, as `docker stack run` would if
// Docker had one.
func ExampleRunner_FromService() {
	ctx := context.Background()
	r, err := oneshot.NewRunner()
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	spec, err := r.FromService(ctx, "shop_app") // deployed with `docker stack deploy ... shop`
	if err != nil {
		log.Fatal(err) // matches oneshot.ErrServiceNotFound, or a *SourceError naming the setting
	}
	res, err := r.Run(ctx, spec, oneshot.WithCommand("migrate", "up"), oneshot.WithStdout(os.Stdout))
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("migrated in %s", res.FinishedAt.Sub(res.StartedAt))
}

// Twelve shards of a backfill, three at a time, each task picking its
// shard from ONESHOT_TASK_INDEX, with every task's exit code and output.
func ExampleWithTasks() {
	ctx := context.Background()
	res, err := oneshot.Run(ctx, oneshot.JobSpec{Image: "backfill:v3", Command: []string{"--shards", "12"}},
		oneshot.WithTasks(12), oneshot.WithParallelism(3), oneshot.WithRetries(2, 10*time.Second),
		oneshot.WithTaskPrefix(), oneshot.WithStdout(os.Stdout),
	)
	if res != nil {
		for _, t := range res.Tasks {
			log.Printf("shard %d on node %s: exit code %d after %d attempt(s)", t.Index, t.NodeID, t.ExitCode, len(t.History))
		}
	}
	var exitErr *oneshot.ExitError
	if errors.As(err, &exitErr) { // the first failed shard's, by index
		log.Fatalf("shard %d failed with code %d", exitErr.Result.Tasks[0].Index, exitErr.ExitCode())
	}
}
