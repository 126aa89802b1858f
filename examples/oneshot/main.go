// Command oneshot runs one-shot jobs on Docker Swarm from the command line,
// as docker run does on one engine: the job's output streams to the
// terminal, the command exits with the job's exit code, and the job's
// service is removed, also on Ctrl-C.
//
//	oneshot run [flags] IMAGE [COMMAND] [ARG...]
//	oneshot run --from-service NAME [flags] [COMMAND] [ARG...]
//	oneshot run --compose FILE --stack STACK --service NAME [flags] [COMMAND] [ARG...]
//	oneshot stack run [flags] STACK SERVICE [COMMAND] [ARG...]
//	oneshot run --detach [flags] IMAGE [COMMAND] [ARG...]
//	oneshot attach [--output-from-now] [--timeout D] JOB
//	oneshot logs JOB
//	oneshot ps [--quiet]
//	oneshot stop JOB
//	oneshot prune [--older-than DURATION] [--filter label=KEY[=VALUE]] [--dry-run]
//	oneshot version
//
// `oneshot stack run` runs a job with the settings of the service SERVICE
// of a stack deployed as STACK (`docker stack deploy`), e.g. a migration
// with the app's image, secrets and networks: `oneshot stack run app web
// migrate up`. `oneshot run --from-service` does the same from any service,
// by name or ID, and `oneshot run --compose` from a service of a compose
// file. COMMAND replaces the service's command; the flags apply over its
// settings.
//
// `--tasks N` (with `--parallelism P`, `--fail-fast`) runs N tasks of the
// job, each finding its index in ONESHOT_TASK_INDEX, and `--global` one on
// every node: their lines come after their index ("[3] "), a table of the
// tasks ends the run, and the command exits with the code of the first
// task that failed.
//
// `oneshot run --detach` starts the job and leaves it running (with
// `--idempotency-key K`, a job of that key in flight is not started twice);
// `oneshot attach JOB` waits on it later, from any machine, as `oneshot run`
// would have; `oneshot stop JOB` stops it; `oneshot ps` lists the jobs.
//
// It talks to the engine that the global flags -H/--host or -c/--context
// name, given before the command as the docker CLI's, or else to the one
// the docker CLI would use (DOCKER_HOST, DOCKER_CONTEXT, the current docker
// context, the local one), which must be a swarm manager. `oneshot run --help` and `oneshot stack run
// --help` list the flags.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

func main() {
	// A closed pipe on stdout or stderr (`oneshot run ... | head`) must not
	// kill the command before it removes the job's service: ignoring
	// SIGPIPE turns it into write errors, which the library tolerates.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(run(os.Args[1:], consoleOf(os.Stdout, os.Stderr)))
}

// terminal is where the command writes, and what those places are.
type terminal struct {
	stdout, stderr io.Writer
	// stderrIsTerminal says stderr is a terminal: progress is on by default.
	stderrIsTerminal bool
	// stdoutSharesStderr says stdout and stderr are the same terminal, pipe
	// or file, so that their lines can mix.
	stdoutSharesStderr bool
}

// consoleOf describes the process's own stdout and stderr.
func consoleOf(stdout, stderr *os.File) terminal {
	return terminal{stdout: stdout, stderr: stderr, stderrIsTerminal: isTerminal(stderr), stdoutSharesStderr: sameFile(stdout, stderr)}
}

// run runs the sub-command that args name and returns the exit code.
func run(args []string, term terminal) int {
	args, err := useEngineFlags(args) // -H, --host, -c, --context: engineflags.go
	if err != nil {
		fmt.Fprintln(term.stderr, "oneshot:", err)
		return jobexit.NotRun
	}
	if len(args) == 0 {
		usage(term.stderr)
		return jobexit.NotRun
	}
	ctx, stop := jobexit.InterruptContext()
	defer stop()
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:], term, libraryReader)
	case "stack":
		return stackCommand(ctx, args[1:], term, libraryReader)
	case "prune":
		return pruneCommand(ctx, args[1:], term.stdout, term.stderr)
	case "attach":
		return attachCommand(ctx, args[1:], term, false)
	case "stop":
		return attachCommand(ctx, args[1:], term, true)
	case "logs":
		return logsCommand(ctx, args[1:], term)
	case "ps":
		return psCommand(ctx, args[1:], term)
	case "version":
		return versionCommand(term.stdout)
	case "help", "-h", "-help", "--help":
		usage(term.stdout)
		return 0
	}
	fmt.Fprintf(term.stderr, "oneshot: unknown command %q\n\n", args[0])
	usage(term.stderr)
	return jobexit.NotRun
}

// usage lists the sub-commands.
func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  oneshot run [flags] IMAGE [COMMAND] [ARG...]   run a job on the swarm and wait for it
  oneshot run --from-service NAME [flags] [COMMAND] [ARG...]
                                                 run a job with a service's settings
  oneshot stack run [flags] STACK SERVICE [COMMAND] [ARG...]
                                                 run a job with the settings of a stack's service
  oneshot run --detach [flags] IMAGE [COMMAND...] start a job, print its name and leave it running
  oneshot attach [flags] JOB                     wait on a job started elsewhere, as run would
  oneshot logs JOB                               print what a job printed so far
  oneshot ps [--quiet]                           list the jobs on the swarm
  oneshot stop [flags] JOB                       stop a job and wait until it has stopped
  oneshot prune [flags]                          remove finished job services left behind
  oneshot version                                print the version

Run 'oneshot COMMAND --help' for a command's flags.
`)
	fmt.Fprint(w, engineUsage)
}
