package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

// stackUsage is `oneshot stack --help`.
const stackUsage = `Usage: oneshot stack run [flags] STACK SERVICE [COMMAND] [ARG...]

Runs a job with the settings of a stack's service. Run 'oneshot stack run --help' for its flags.
`

// stackRunUsage is `oneshot stack run --help`. Every flag that
// stackRunFlagSet defines is in it (a unit test checks).
const stackRunUsage = `Usage: oneshot stack run [flags] STACK SERVICE [COMMAND] [ARG...]

Runs a job once on the swarm with the settings of the service SERVICE of the
stack STACK, deployed by 'docker stack deploy' as STACK_SERVICE: its image,
entrypoint and command, environment, user, working directory, networks (not
its aliases), secrets, configs, mounts, placement, resources, log driver and
labels. Not its replicas, ports, healthcheck or restart policy: the job runs
once, as 'oneshot run' runs it, and exits with its exit code.

COMMAND and its ARGs replace the service's command, as 'docker run IMAGE
COMMAND' replaces the image's; the service's entrypoint stays unless
--entrypoint replaces it (then, without COMMAND, the job has no arguments).
Flags go before STACK and apply over the service's settings: a variable, label,
limit or time bound given replaces the service's; a mount, secret or config at
the same path, or a network of the same name, replaces the service's; the
others add to them.

Examples:
  oneshot stack run app_stack web migrate up
  oneshot stack run --timeout 10m -e LOG_LEVEL=debug app_stack web migrate up
  oneshot stack run --image app:v3 --json app_stack web report > result.json
  oneshot run --from-service app_stack_web migrate up      (the same, by service name or ID)
  oneshot run --compose stack.yml --stack app_stack --service web migrate up
                                                           (from the compose file, not the swarm)

` + jobFlagsHelp + `
Service:
      --image IMAGE       run IMAGE instead of the service's image

` + outcomeHelp

// specSource names the service whose settings a job takes before the
// flags apply: a deployed service (--from-service, `oneshot stack run`),
// or a service of a compose file (--compose, --stack, --service). Its
// zero value is none: `oneshot run IMAGE`.
type specSource struct {
	// service is the deployed service's name or ID.
	service string
	// compose is the compose file, stack the stack it is deployed as (also
	// set by `oneshot stack run`), composeService the service in it.
	compose, stack, composeService string
}

// register defines the flags of `oneshot run` that name a source.
func (s *specSource) register(fs *flag.FlagSet) {
	fs.StringVar(&s.service, "from-service", "", "")
	fs.StringVar(&s.compose, "compose", "", "")
	fs.StringVar(&s.stack, "stack", "", "")
	fs.StringVar(&s.composeService, "service", "", "")
}

// isZero says no source was named.
func (s specSource) isZero() bool { return s == specSource{} }

// String names the source as the command's messages do.
func (s specSource) String() string {
	if s.compose != "" {
		return fmt.Sprintf("%s: service %s of stack %s", s.compose, s.composeService, s.stack)
	}
	return "service " + s.service
}

// checkSource refuses source flags that do not go together, naming them.
func (f *runFlags) checkSource() error {
	s := f.source
	switch {
	case f.gave("from-service") && f.gave("compose"):
		return errors.New("--from-service and --compose cannot go together: give one of them")
	case f.gave("from-service") && s.service == "":
		return errors.New("--from-service needs the name or ID of a service")
	case f.gave("from-service") && (f.gave("stack") || f.gave("service")):
		return errors.New("--stack and --service go with --compose, not --from-service: --from-service takes the deployed name, STACK_SERVICE")
	case f.gave("compose") && s.compose == "":
		return errors.New("--compose needs the path of a compose file")
	case f.gave("compose"):
		return checkCompose(s)
	case f.gave("stack") || f.gave("service"):
		return errors.New("--stack and --service go with --compose FILE; for a deployed stack's service, use 'oneshot stack run STACK SERVICE'")
	}
	return nil
}

// checkCompose says which of --stack and --service, which --compose
// needs, is missing.
func checkCompose(s specSource) error {
	var missing []string
	for _, fl := range []struct{ value, flag string }{{s.stack, "--stack STACK"}, {s.composeService, "--service NAME"}} {
		if fl.value == "" {
			missing = append(missing, fl.flag)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("--compose needs %s (the stack the file is deployed as, and the service of the file to run)", strings.Join(missing, " and "))
	}
	return nil
}

// specReader reads a source's settings: the library's FromService and
// FromCompose, or fakes in unit tests.
type specReader struct {
	fromService func(ctx context.Context, nameOrID string) (oneshot.JobSpec, error)
	fromCompose func(path, stack, service string) (oneshot.JobSpec, error)
}

// libraryReader reads sources with the library, on the swarm of the
// command's Runner.
var libraryReader = specReader{fromService: fromServiceOnEngine, fromCompose: oneshot.FromCompose}

// read returns the settings of the source: none for the zero source, the
// deployed service's, or the compose file's service's (no Docker call).
func (r specReader) read(ctx context.Context, s specSource) (oneshot.JobSpec, error) {
	switch {
	case s.compose != "":
		return r.fromCompose(s.compose, s.stack, s.composeService)
	case s.service == "":
		return oneshot.JobSpec{}, nil
	}
	spec, err := r.fromService(ctx, s.service)
	if errors.Is(err, oneshot.ErrServiceNotFound) && s.stack != "" {
		err = fmt.Errorf("%w; is the stack %s deployed? `docker stack services %s` lists its services", err, s.stack, s.stack)
	}
	return spec, err
}

// stackCommand is `oneshot stack`: its one sub-command is run.
func stackCommand(ctx context.Context, args []string, term terminal, r specReader) int {
	if len(args) == 0 {
		fmt.Fprint(term.stderr, "oneshot: 'oneshot stack' needs a command: run\n\n", stackUsage)
		return jobexit.NotRun
	}
	switch args[0] {
	case "run":
		return stackRunCommand(ctx, args[1:], term, r)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(term.stdout, stackUsage)
		return 0
	}
	fmt.Fprintf(term.stderr, "oneshot: unknown command \"stack %s\" (want 'oneshot stack run')\n\n%s", args[0], stackUsage)
	return jobexit.NotRun
}

// stackRunCommand is `oneshot stack run`: `oneshot run --from-service
// STACK_SERVICE`, with the stack and service named apart.
func stackRunCommand(ctx context.Context, args []string, term terminal, r specReader) int {
	flags, err := parseStackRunFlags(args)
	if code, done := refuseFlags(err, stackRunUsage, term); done {
		return code
	}
	return runFromSource(ctx, flags, r, term)
}

// parseStackRunFlags parses `oneshot stack run`'s arguments: flags, then
// STACK and SERVICE, then the job's command. It returns errHelp when --help
// is asked for.
func parseStackRunFlags(args []string) (*runFlags, error) {
	f := &runFlags{}
	fs := f.stackRunFlagSet()
	if err := f.parse(fs, args, "oneshot stack run"); err != nil {
		return nil, err
	}
	if fs.NArg() < 2 || fs.Arg(0) == "" || fs.Arg(1) == "" {
		return nil, errors.New("'oneshot stack run' needs a STACK and a SERVICE; see 'oneshot stack run --help'")
	}
	stack, service := fs.Arg(0), fs.Arg(1)
	f.source = specSource{service: stack + "_" + service, stack: stack}
	f.command = fs.Args()[2:]
	return f, nil
}

// stackRunFlagSet is the flag set of `oneshot stack run`: the job's flags
// and --image.
func (f *runFlags) stackRunFlagSet() *flag.FlagSet {
	fs := newFlagSet("oneshot stack run")
	f.register(fs)
	fs.StringVar(&f.image, "image", "", "")
	return fs
}
