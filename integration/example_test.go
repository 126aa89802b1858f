package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/oneshot-go/oneshot"
)

// The package's examples (example_test.go at the root) name images that
// exist nowhere here, so go test only compiles them. These make the same
// calls for real, on the local swarm with the locally built jobkit image,
// and go test checks their output.

// Run a job and get its exit code and output; its service is removed.
func Example_run() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := oneshot.Run(ctx, oneshot.JobSpec{
		Image:   jobkitImage,
		Command: []string{"echo", "hello from the swarm"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("exit code %d, state %s, stdout %q, stderr %q\n", res.ExitCode, res.State, res.Stdout, res.Stderr)
	// Output:
	// exit code 0, state complete, stdout "hello from the swarm\n", stderr ""
}

// A non-zero exit is an *ExitError with the code and the end of stderr; the
// Result comes with it.
func Example_exitError() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := oneshot.Run(ctx, oneshot.JobSpec{
		Image:   jobkitImage,
		Command: []string{"echo", "checked 41 rows", "--", "stderr", "row 42 is corrupt", "--", "exit", "3"},
	})
	var exitErr *oneshot.ExitError
	if errors.As(err, &exitErr) {
		fmt.Printf("exit code %d: %s", exitErr.ExitCode(), exitErr.Stderr)
		fmt.Printf("stdout: %s", res.Stdout)
	}
	// Output:
	// exit code 3: row 42 is corrupt
	// stdout: checked 41 rows
}

// Start a job with its output streamed live, then Wait for it.
func Example_startAndWait() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := oneshot.Start(ctx, oneshot.JobSpec{Image: jobkitImage, Command: []string{"mixed", "4"}},
		oneshot.WithStdout(os.Stdout))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := job.Wait(ctx)
	fmt.Printf("err %v, exit code %d, %d bytes on stderr\n", err, res.ExitCode, len(res.Stderr))
	// Output:
	// out 1
	// out 3
	// err <nil>, exit code 0, 12 bytes on stderr
}

// A job that outlives its timeout is stopped (SIGTERM, then SIGKILL after
// its stop grace period): Run returns once it has exited, with all it
// printed, its exit code and a *StopError matching context.DeadlineExceeded.
func Example_timeout() {
	res, err := oneshot.Run(context.Background(), oneshot.JobSpec{
		Image:   jobkitImage,
		Command: []string{"onterm", "1s", "cleaning up", "--", "echo", "working", "--", "sleep", "60s"},
	}, oneshot.WithTimeout(4*time.Second), oneshot.WithStopGracePeriod(10*time.Second))
	var stopErr *oneshot.StopError
	fmt.Println("stopped:", errors.As(err, &stopErr), "timed out:", errors.Is(err, context.DeadlineExceeded))
	fmt.Printf("exit code %d, state %s, stdout %q\n", res.ExitCode, res.State, res.Stdout)
	// Output:
	// stopped: true timed out: true
	// exit code 143, state shutdown, stdout "working\ncleaning up\nstopped by terminated after 1s\n"
}

// Bad input is refused before anything is created, naming the field.
func Example_specError() {
	_, err := oneshot.Run(context.Background(), oneshot.JobSpec{Image: jobkitImage},
		oneshot.WithSecret("oneshot-example-no-such-secret"))
	var specErr *oneshot.SpecError
	if errors.As(err, &specErr) {
		fmt.Println(specErr.Field+":", specErr.Problem)
	}
	// Output:
	// Secrets[0].Name: no secret named "oneshot-example-no-such-secret" on the swarm
}
