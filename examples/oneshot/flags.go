package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oneshot-go/oneshot"
)

// runFlags holds what `oneshot run` or `oneshot stack run` was given.
type runFlags struct {
	// detach, idempotencyKey and outputFromNow are for jobs that outlive
	// the command (jobcmds.go).
	detach         bool
	idempotencyKey string
	outputFromNow  bool
	// image is IMAGE, or --image with a source; command is COMMAND and
	// its ARGs.
	image   string
	command []string
	// source names the service the job's settings come from before the
	// flags (see stack.go); its zero value is a plain `oneshot run IMAGE`.
	source specSource
	// base is the spec the flags' options apply to (see precedence.go),
	// kept to tell a spec error in a flag from one in the source's settings.
	base oneshot.JobSpec
	// given holds the names of the flags given on the command line, so that
	// only those override the source's settings.
	given map[string]bool

	env, envFiles, networks, mounts, volumes, tmpfs stringList
	secrets, configs, constraints, labels, logOpts  stringList
	user, workdir, entrypoint, name, logDriver      string
	memory, reserveMemory                           string
	cpus, reserveCPUs                               float64
	timeout, scheduleTimeout, stopTimeout           time.Duration
	retries                                         int
	retryDelay                                      time.Duration
	registryAuth, keep, quiet, json, progress       bool

	// secretFiles, secretEnvs and configFiles are --secret-file,
	// --secret-env and --config-file: data made into a secret or config
	// for this job alone (dataOptions in jobspec.go).
	secretFiles, secretEnvs, configFiles stringList

	// The job's tasks (see tasks.go): --tasks, --parallelism, --global,
	// --fail-fast, --task-prefix and --no-task-prefix.
	tasks, parallelism                 int
	global, failFast, prefix, noPrefix bool
}

// stringList is a flag that may be given many times.
type stringList []string

// String returns the values given so far, for the flag package.
func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set adds one value.
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// errHelp means --help was asked for and shown.
var errHelp = errors.New("help shown")

// runUsage is `oneshot run --help`. Every flag that runFlagSet defines is
// in it (a unit test checks).
const runUsage = `Usage: oneshot run [flags] IMAGE [COMMAND] [ARG...]
       oneshot run --from-service NAME [flags] [COMMAND] [ARG...]
       oneshot run --compose FILE --stack STACK --service NAME [flags] [COMMAND] [ARG...]

Runs IMAGE once as a job on the swarm, streams its stdout and stderr, removes
its service and exits with the job's exit code. Flags go before IMAGE;
everything after IMAGE is the job's command, passed as is (no shell).

With --from-service or --compose the job takes a service's settings instead
(see 'oneshot stack run --help'), and everything after the flags is its command.

Examples:
  oneshot run alpine:3.20 echo hello
  oneshot run -e MODE=full --secret db-password --network backend backup:v3 /backup.sh
  oneshot run --mount type=volume,source=data,target=/data --timeout 10m app:v2 migrate up
  oneshot run --secret source=db-password,target=/etc/app/pw,uid=1000,mode=0400 app:v2
  oneshot run --secret-env db-password=DB_PASSWORD --config-file /etc/app.yaml=./app.yaml app:v2 migrate
  oneshot run --constraint node.role==worker --json app:v2 report > result.json
  oneshot run --from-service app_web --timeout 10m migrate up
  oneshot run --compose stack.yml --stack app --service web -e LOG=debug migrate up

` + jobFlagsHelp + `
From a service:
      --from-service NAME run with the settings of the deployed service NAME (or ID)
      --compose FILE      run with the settings of a service of a compose file
                          (needs --stack and --service; nothing is read from the swarm)
      --stack STACK       the stack the compose file is deployed as: its services
                          are STACK_NAME, its networks STACK_NETWORK...
      --service NAME      the service of the compose file
      --image IMAGE       run IMAGE instead of the service's image

` + outcomeHelp

// jobFlagsHelp lists the flags that `oneshot run` and `oneshot stack run`
// share.
const jobFlagsHelp = `Environment and files:
  -e, --env KEY=VALUE     set a variable; KEY alone passes this process's value (repeatable)
      --env-file FILE     read variables from a file in docker's format (repeatable)
      --mount SPEC        type=volume|bind|tmpfs,source=NAME|/PATH,target=/PATH[,readonly][,tmpfs-size=64m]
  -v, --volume SPEC       NAME:/path (volume), /node/path:/path (bind), /path (anonymous); :ro for read-only
      --tmpfs PATH[:OPTS] an in-memory file system at PATH; OPTS: size=64m, ro
      --secret SPEC       a swarm secret: NAME (as /run/secrets/NAME), or source=NAME,target=PATH,uid=,gid=,mode=0400
      --config SPEC       a swarm config: NAME (as /NAME), or source=NAME,target=/PATH,uid=,gid=,mode=0444
      --secret-file NAME=PATH
                          the file PATH as the secret /run/secrets/NAME, made for this job
                          alone and removed with it (repeatable; under 500 KiB)
      --secret-env NAME=VAR
                          the value of this process's variable VAR as the secret
                          /run/secrets/NAME, made for this job alone (repeatable)
      --config-file TARGET=PATH
                          the file PATH as the config file TARGET (an absolute path),
                          made for this job alone and removed with it (repeatable; under 1000 KiB)
  -u, --user USER         run as USER (name, UID or UID:GID)
  -w, --workdir DIR       working directory inside the container
      --entrypoint CMD    replace the image's (or service's) entrypoint

Placement and resources:
      --network SPEC      attach to a swarm network: NAME, or name=NAME,alias=ALIAS (repeatable)
      --constraint EXPR   placement constraint, e.g. node.role==worker (repeatable)
      --cpus N            CPU limit, e.g. 0.5
      --memory SIZE       memory limit, e.g. 512m or 1g
      --reserve-cpus N    CPUs a node must have free to take the job
      --reserve-memory SIZE
                          memory a node must have free to take the job
      --with-registry-auth
                          send the credentials your docker config holds for the image's registry

Job:
      --name NAME         the service's name (default: oneshot-<random>)
  -l, --label KEY=VALUE   label the service and its container (repeatable)
      --timeout D         stop the job after D, e.g. 10m; exit code 124 (default: no limit)
      --schedule-timeout D
                          give up when no node takes the task within D (default: wait)
      --stop-timeout D    time a stopped job has to exit after SIGTERM (default: 10s)
      --log-driver NAME   the job container's log driver: json-file, local or journald (default: the node's)
      --log-opt KEY=VALUE an option of the log driver, e.g. max-size=100m to keep a large output (repeatable)
      --retries N         start a failed job again up to N times
      --retry-delay D     pause before each retry
      --keep              leave the service on the swarm after the job ends (see 'oneshot prune')
  -d, --detach            start the job, print its name and leave it running ('oneshot attach')
      --idempotency-key K attach to the job started with key K while its service exists,
                          instead of starting a second one

Tasks (each finds its index, 0 to N-1, in ONESHOT_TASK_INDEX and N in ONESHOT_TASK_COUNT):
      --tasks N           run N tasks of the job, each to its end (default: 1)
      --parallelism P     run at most P of them at once (default: all)
      --global            run one task on every ready node that matches the constraints
      --fail-fast         once a task has failed, stop the others and start no more
      --task-prefix       start each line of the tasks' output with "[INDEX] " (the
                          default for --tasks N above 1 and --global)
      --no-task-prefix    leave the tasks' lines as they are

Output:
  -q, --quiet             no progress lines
      --progress          progress lines on stderr even when stderr is not a terminal
      --json              print the result as one JSON object on stdout; the job's
                          output is inside it, not streamed
`

// outcomeHelp says where progress goes and what the exit codes mean.
const outcomeHelp = `Progress lines ("oneshot: task ... running on NODE") go to stderr when it is a
terminal, on lines of their own. Exit codes: the job's own, when it exited on
its own; 125 when oneshot could not run the job (bad flags, unknown secret,
image not found, no suitable node, node lost, engine not a swarm manager); 124
when --timeout stopped it; 130 when Ctrl-C stopped it (143 for SIGTERM). A
stopped job gets SIGTERM, and SIGKILL after --stop-timeout; oneshot waits until
it has stopped, prints the rest of its output, then removes its service.

A job of several tasks (--tasks, --global) exits with the code of the first
task, by index, that failed (0 when all succeeded; 125 when that task could not
run; a task that --fail-fast stopped does not count), or 124, 130, 143 when it
was stopped. A table of its tasks (node, state, exit code, time, attempts,
error) goes to stderr at the end when progress is shown or a task failed;
--json gives each task's result in "Tasks".
`

// parseRunFlags parses `oneshot run`'s arguments. Flags stop at IMAGE, or
// with --from-service or --compose at COMMAND. It returns errHelp when
// --help is asked for: the caller prints runUsage.
func parseRunFlags(args []string) (*runFlags, error) {
	f := &runFlags{}
	fs := f.runFlagSet()
	if err := f.parse(fs, args, "oneshot run"); err != nil {
		return nil, err
	}
	if err := f.checkSource(); err != nil {
		return nil, fmt.Errorf("%w; see 'oneshot run --help'", err)
	}
	if !f.source.isZero() {
		f.command = fs.Args()
		return f, nil
	}
	if f.gave("image") {
		return nil, errors.New("--image goes with --from-service or --compose; give IMAGE as the first argument instead, see 'oneshot run --help'")
	}
	if fs.NArg() == 0 {
		return nil, errors.New("'oneshot run' needs an IMAGE (or --from-service or --compose); see 'oneshot run --help'")
	}
	f.image, f.command = fs.Arg(0), fs.Args()[1:]
	return f, nil
}

// runFlagSet is the flag set of `oneshot run`: the job's flags and the
// flags that name a service to take settings from.
func (f *runFlags) runFlagSet() *flag.FlagSet {
	fs := newFlagSet("oneshot run")
	f.register(fs)
	f.source.register(fs)
	fs.StringVar(&f.image, "image", "", "")
	return fs
}

// parse parses args with fs and notes which flags were given.
func (f *runFlags) parse(fs *flag.FlagSet, args []string, command string) error {
	if err := fs.Parse(args); err != nil {
		return flagSetError(err, command)
	}
	f.given = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.given[fl.Name] = true })
	return nil
}

// gave says whether one of the names of a flag was given.
func (f *runFlags) gave(names ...string) bool {
	for _, name := range names {
		if f.given[name] {
			return true
		}
	}
	return false
}

// newFlagSet returns a flag set that prints nothing itself: the caller
// prints one line for an error, and the usage on stdout for --help.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// flagSetError is errHelp for --help, or err with a pointer to the help.
func flagSetError(err error, command string) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return fmt.Errorf("%w; see '%s --help'", err, command)
}

// register defines the flags on fs; the flag package takes them with one
// dash or two.
func (f *runFlags) register(fs *flag.FlagSet) {
	vars := map[string]flag.Value{
		"e,env": &f.env, "env-file": &f.envFiles, "network": &f.networks, "mount": &f.mounts,
		"v,volume": &f.volumes, "tmpfs": &f.tmpfs, "secret": &f.secrets, "config": &f.configs,
		"secret-file": &f.secretFiles, "secret-env": &f.secretEnvs, "config-file": &f.configFiles,
		"constraint": &f.constraints, "l,label": &f.labels, "log-opt": &f.logOpts,
	}
	for names, v := range vars {
		for _, name := range strings.Split(names, ",") {
			fs.Var(v, name, "")
		}
	}
	for _, name := range []string{"u", "user"} {
		fs.StringVar(&f.user, name, "", "")
	}
	for _, name := range []string{"w", "workdir"} {
		fs.StringVar(&f.workdir, name, "", "")
	}
	fs.StringVar(&f.entrypoint, "entrypoint", "", "")
	fs.StringVar(&f.name, "name", "", "")
	fs.StringVar(&f.logDriver, "log-driver", "", "")
	f.registerResources(fs)
	f.registerJob(fs)
}

// registerResources defines the flags of limits and reservations.
func (f *runFlags) registerResources(fs *flag.FlagSet) {
	fs.Float64Var(&f.cpus, "cpus", 0, "")
	fs.StringVar(&f.memory, "memory", "", "")
	fs.Float64Var(&f.reserveCPUs, "reserve-cpus", 0, "")
	fs.StringVar(&f.reserveMemory, "reserve-memory", "", "")
	fs.BoolVar(&f.registryAuth, "with-registry-auth", false, "")
}

// registerJob defines the flags of time bounds, retries and output.
func (f *runFlags) registerJob(fs *flag.FlagSet) {
	fs.DurationVar(&f.timeout, "timeout", 0, "")
	fs.DurationVar(&f.scheduleTimeout, "schedule-timeout", 0, "")
	fs.DurationVar(&f.stopTimeout, "stop-timeout", 0, "")
	fs.IntVar(&f.retries, "retries", 0, "")
	fs.DurationVar(&f.retryDelay, "retry-delay", 0, "")
	fs.BoolVar(&f.keep, "keep", false, "")
	for _, name := range []string{"d", "detach"} {
		fs.BoolVar(&f.detach, name, false, "")
	}
	fs.StringVar(&f.idempotencyKey, "idempotency-key", "", "")
	for _, name := range []string{"q", "quiet"} {
		fs.BoolVar(&f.quiet, name, false, "")
	}
	fs.BoolVar(&f.progress, "progress", false, "")
	fs.BoolVar(&f.json, "json", false, "")
	f.registerTasks(fs)
}

// registerTasks defines the flags of a job of several tasks.
func (f *runFlags) registerTasks(fs *flag.FlagSet) {
	fs.IntVar(&f.tasks, "tasks", 0, "")
	fs.IntVar(&f.parallelism, "parallelism", 0, "")
	fs.BoolVar(&f.global, "global", false, "")
	fs.BoolVar(&f.failFast, "fail-fast", false, "")
	fs.BoolVar(&f.prefix, "task-prefix", false, "")
	fs.BoolVar(&f.noPrefix, "no-task-prefix", false, "")
}

// showProgress says whether to print the task's state changes on stderr: on
// a terminal unless --quiet, elsewhere only with --progress.
func (f *runFlags) showProgress(stderrIsTerminal bool) bool {
	if f.quiet {
		return false
	}
	return f.progress || stderrIsTerminal
}
