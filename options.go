package oneshot

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Option changes a JobSpec. Options are applied in order on a copy of the
// spec given to Run or Start; an option that cannot work returns a
// *SpecError, and nothing is created on the swarm.
type Option func(*JobSpec) error

// applyOptions returns a copy of spec with opts applied, validated.
func applyOptions(spec JobSpec, opts []Option) (JobSpec, error) {
	spec.Command = append([]string(nil), spec.Command...)
	spec.Entrypoint = append([]string(nil), spec.Entrypoint...)
	spec.Env = append([]string(nil), spec.Env...)
	spec.Networks = append([]NetworkAttachment(nil), spec.Networks...)
	spec.Mounts = append([]Mount(nil), spec.Mounts...)
	spec.Secrets = append([]SecretRef(nil), spec.Secrets...)
	spec.Configs = append([]ConfigRef(nil), spec.Configs...)
	spec.Constraints = append([]string(nil), spec.Constraints...)
	spec.PlacementPreferences = append([]string(nil), spec.PlacementPreferences...)
	labels := make(map[string]string, len(spec.Labels))
	for k, v := range spec.Labels {
		labels[k] = v
	}
	spec.Labels = labels
	for _, opt := range opts {
		if err := opt(&spec); err != nil {
			return spec, err
		}
	}
	return spec, spec.Validate()
}

// WithImage sets the image to run.
func WithImage(image string) Option {
	return func(s *JobSpec) error { s.Image = image; return nil }
}

// WithCommand sets the container's arguments, as `docker run IMAGE ARG...`
// takes them. Each argument is passed as is: no shell splits or quotes them.
func WithCommand(args ...string) Option {
	return func(s *JobSpec) error { s.Command = append([]string(nil), args...); return nil }
}

// WithEntrypoint replaces the image's entrypoint.
func WithEntrypoint(args ...string) Option {
	return func(s *JobSpec) error { s.Entrypoint = append([]string(nil), args...); return nil }
}

// WithEnv sets one environment variable, replacing the value that the spec
// had for it (from FromService, say).
func WithEnv(key, value string) Option {
	return func(s *JobSpec) error {
		if !envKeyPattern.MatchString(key) {
			return &SpecError{Field: "Env", Problem: fmt.Sprintf("WithEnv(%q, ...): not a variable name", key), Fix: "use a name without '=' or spaces"}
		}
		s.Env = slices.DeleteFunc(s.Env, func(kv string) bool { k, _, _ := strings.Cut(kv, "="); return k == key })
		s.Env = append(s.Env, key+"="+value)
		return nil
	}
}

// WithEnvFile adds the variables of an env file in docker's format: one
// KEY=VALUE a line, '#' comments and blank lines ignored, and a KEY alone
// taking its value from this process's environment (skipped when unset).
func WithEnvFile(path string) Option {
	return func(s *JobSpec) error {
		env, err := readEnvFile(path, os.LookupEnv)
		if err != nil {
			return err
		}
		s.Env = append(s.Env, env...)
		return nil
	}
}

// WithName sets the service's name; it must be unique on the swarm while the
// service exists. Without it, oneshot makes a unique name.
func WithName(name string) Option {
	return func(s *JobSpec) error { s.Name = name; return nil }
}

// WithLabel adds a label to the service and its container.
func WithLabel(key, value string) Option {
	return func(s *JobSpec) error {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[key] = value
		return nil
	}
}

// WithUser runs the job as user (a name, UID or UID:GID).
func WithUser(user string) Option {
	return func(s *JobSpec) error { s.User = user; return nil }
}

// WithWorkdir sets the job's working directory.
func WithWorkdir(dir string) Option {
	return func(s *JobSpec) error { s.Workdir = dir; return nil }
}

// WithNetwork attaches the job to a swarm network, with optional extra DNS
// names. Use it once per network.
func WithNetwork(name string, aliases ...string) Option {
	return func(s *JobSpec) error {
		s.Networks = append(s.Networks, NetworkAttachment{Name: name, Aliases: slices.Clone(aliases)})
		return nil
	}
}

// WithVolume mounts the named volume at target. The volume is created on the
// node that runs the job if it does not exist there.
func WithVolume(name, target string) Option {
	return WithMount(Mount{Type: MountVolume, Source: name, Target: target})
}

// WithBind mounts hostPath, a path on the node that runs the job, at target.
func WithBind(hostPath, target string) Option {
	return WithMount(Mount{Type: MountBind, Source: hostPath, Target: target})
}

// WithTmpfs mounts an empty in-memory file system at target.
func WithTmpfs(target string) Option {
	return WithMount(Mount{Type: MountTmpfs, Target: target})
}

// WithMount adds a mount in its general form (read-only, tmpfs size...).
func WithMount(m Mount) Option {
	return func(s *JobSpec) error { s.Mounts = append(s.Mounts, m); return nil }
}

// WithSecret gives the job the swarm secret name as /run/secrets/NAME.
func WithSecret(name string) Option {
	return WithSecretRef(SecretRef{Name: name})
}

// WithSecretRef gives the job a swarm secret in the long form: target path,
// owner and mode.
func WithSecretRef(ref SecretRef) Option {
	return func(s *JobSpec) error { s.Secrets = append(s.Secrets, ref); return nil }
}

// WithConfig gives the job the swarm config name as the file target (an
// absolute path; empty means /NAME).
func WithConfig(name, target string) Option {
	return WithConfigRef(ConfigRef{Name: name, Target: target})
}

// WithConfigRef gives the job a swarm config in the long form.
func WithConfigRef(ref ConfigRef) Option {
	return func(s *JobSpec) error { s.Configs = append(s.Configs, ref); return nil }
}

// WithSecretData gives the job data as the secret file /run/secrets/NAME:
// a swarm secret made for this job alone (with a unique swarm name, from a
// copy of data), created just before the job's service and removed with
// it, whatever the job's end. data must be 1 byte to MaxSecretDataSize; it
// never appears in an error, a log line or a printed JobSpec (Sensitive).
func WithSecretData(name string, data []byte) Option {
	return WithSecretDataRef(SecretData{Name: name, Data: NewSensitive(data)})
}

// WithSecretDataRef is WithSecretData in the long form: target path, owner
// and mode.
func WithSecretDataRef(d SecretData) Option {
	return func(s *JobSpec) error { s.SecretData = append(slices.Clip(s.SecretData), d); return nil }
}

// WithConfigData gives the job data as the config file target (an
// absolute path; empty means /NAME): a swarm config made for this job
// alone, created just before the job's service and removed with it, as
// WithSecretData does. data must be 1 byte to MaxConfigDataSize.
func WithConfigData(name, target string, data []byte) Option {
	return WithConfigDataRef(ConfigData{Name: name, Target: target, Data: NewSensitive(data)})
}

// WithConfigDataRef is WithConfigData in the long form: owner and mode.
func WithConfigDataRef(d ConfigData) Option {
	return func(s *JobSpec) error { s.ConfigData = append(slices.Clip(s.ConfigData), d); return nil }
}

// WithConstraint adds a placement constraint, e.g. "node.role==worker" or
// "node.labels.disk==ssd".
func WithConstraint(expr string) Option {
	return func(s *JobSpec) error { s.Constraints = append(s.Constraints, expr); return nil }
}

// WithPlacementPreference adds a placement preference, as `docker service
// create --placement-pref` takes it: "spread=node.labels.zone".
func WithPlacementPreference(pref string) Option {
	return func(s *JobSpec) error { s.PlacementPreferences = append(s.PlacementPreferences, pref); return nil }
}

// WithResources sets the job's CPU and memory limits and reservations.
func WithResources(r Resources) Option {
	return func(s *JobSpec) error { s.Resources = r; return nil }
}

// WithRegistryAuth sends credentials with the job, so that every node can
// pull its image from a private registry.
func WithRegistryAuth(auth RegistryAuth) Option {
	return func(s *JobSpec) error { s.RegistryAuth = &auth; return nil }
}

// WithRegistryAuthFromDockerConfig sends the credentials that the user's
// docker configuration (~/.docker/config.json or $DOCKER_CONFIG, credential
// helpers included) holds for the registry of the job's image. Put it after
// the option or field that sets the image. Without stored credentials it
// leaves JobSpec.RegistryAuth as it was (none, unless set before), as
// `docker service create --with-registry-auth` sends none.
func WithRegistryAuthFromDockerConfig() Option {
	return func(s *JobSpec) error {
		auth, err := RegistryAuthFromDockerConfig(s.Image)
		if err != nil || auth == nil {
			return err // nothing stored: keep what the spec already has
		}
		s.RegistryAuth = auth
		return nil
	}
}

// WithRetries starts a failed task again, up to n times, after delay. The
// Result is that of the last attempt.
func WithRetries(n int, delay time.Duration) Option {
	return func(s *JobSpec) error { s.Retries, s.RetryDelay = n, delay; return nil }
}

// WithTasks runs n tasks, each to its end; each finds its index (0 ...
// n-1) in ONESHOT_TASK_INDEX and n in ONESHOT_TASK_COUNT.
func WithTasks(n int) Option {
	return func(s *JobSpec) error { s.Tasks = n; return nil }
}

// WithParallelism runs at most p of the job's tasks at once.
func WithParallelism(p int) Option {
	return func(s *JobSpec) error { s.Parallelism = p; return nil }
}

// WithGlobal runs one task on every ready node that matches the job's
// constraints when it starts (the swarm's global job).
func WithGlobal() Option {
	return func(s *JobSpec) error { s.Global = true; return nil }
}

// WithFailFast stops the other tasks, and starts no more, once one has
// failed.
func WithFailFast() Option {
	return func(s *JobSpec) error { s.FailFast = true; return nil }
}

// WithTaskPrefix starts each line that the tasks write to the writers with
// the task's index, e.g. "[3] ".
func WithTaskPrefix() Option {
	return func(s *JobSpec) error { s.TaskPrefix = true; return nil }
}

// WithTimeout bounds the job from Start on. On expiry the job is stopped
// (SIGTERM, then SIGKILL after its stop grace period), its output read to
// the end and its service removed; Wait's *StopError matches
// context.DeadlineExceeded.
func WithTimeout(d time.Duration) Option {
	return func(s *JobSpec) error { s.Timeout = d; return nil }
}

// WithScheduleTimeout bounds how long the task may wait for a node; then the
// job fails with ErrUnschedulable and the swarm's reason.
func WithScheduleTimeout(d time.Duration) Option {
	return func(s *JobSpec) error { s.ScheduleTimeout = d; return nil }
}

// WithStdout streams the job's stdout to w while it runs.
func WithStdout(w io.Writer) Option {
	return func(s *JobSpec) error { s.Stdout = w; return nil }
}

// WithStderr streams the job's stderr to w while it runs.
func WithStderr(w io.Writer) Option {
	return func(s *JobSpec) error { s.Stderr = w; return nil }
}

// WithOutputLimit caps the bytes of each stream kept in the Result (see
// JobSpec.OutputLimit).
func WithOutputLimit(n int) Option {
	return func(s *JobSpec) error { s.OutputLimit = n; return nil }
}

// WithStatusFunc calls fn each time the job's task changes state.
func WithStatusFunc(fn func(TaskStatus)) Option {
	return func(s *JobSpec) error { s.OnStatus = fn; return nil }
}

// WithStopGracePeriod gives a job stopped early (timeout, cancellation,
// Runner.Close) d to exit after SIGTERM before it is killed; Wait returns
// once it has exited.
func WithStopGracePeriod(d time.Duration) Option {
	return func(s *JobSpec) error { s.StopGracePeriod = d; return nil }
}

// WithLogDriver sets the log driver of the job's container and its options
// instead of the node's default, e.g. WithLogDriver("json-file",
// map[string]string{"max-size": "100m"}) for a job whose output is larger
// than the default keeps (see ErrOutputIncomplete). The driver must be one
// whose logs the engine serves: json-file, local or journald.
func WithLogDriver(name string, options map[string]string) Option {
	return func(s *JobSpec) error {
		s.LogDriver = LogDriver{Name: name, Options: maps.Clone(options)}
		return nil
	}
}

// WithKeep leaves the job's service on the swarm after the job ends, for
// inspection (Prune removes it). A kept job that must stop is stopped all
// the same, and kept parked: placed where no node is, so that it never
// runs again.
func WithKeep() Option {
	return func(s *JobSpec) error { s.Keep = true; return nil }
}

// WithIdempotencyKey makes Start attach to the job started with the same
// key, by this process or any other, while its service exists (in flight,
// or ended but not yet removed: kept, or still read by its waiters),
// instead of starting a second one; Job.Attached says which happened. Two
// Starts with one key at the same moment make one job: the key names the
// job's service (unless WithName does), and the swarm's service names are
// unique. Once the job's service is removed, the key starts a new job.
// Not for a job of several tasks.
func WithIdempotencyKey(key string) Option {
	return func(s *JobSpec) error { s.IdempotencyKey = key; return nil }
}

// WithOutputFromNow, given to Attach, streams to the writers only the
// output the job logs from now on; the Result still holds all of it.
func WithOutputFromNow() Option {
	return func(s *JobSpec) error { s.outputFromNow = true; return nil }
}

// RunnerOption configures a Runner made by NewRunner.
type RunnerOption func(*Runner) error

// WithClient makes the Runner talk to the engine through c instead of a
// client made from the environment. The Runner does not close c.
func WithClient(c *client.Client) RunnerOption {
	return func(r *Runner) error {
		if c == nil {
			return fmt.Errorf("oneshot: WithClient(nil)")
		}
		r.api = c
		return nil
	}
}

// WithLogger makes the Runner log what it does (at debug level: services
// created and removed, event stream reconnections...) to l.
func WithLogger(l *slog.Logger) RunnerOption {
	return func(r *Runner) error {
		if l != nil {
			r.log = l
		}
		return nil
	}
}

// WithHost makes the Runner talk to the engine at host, as `docker --host`
// does: unix:///PATH, tcp://HOST[:PORT] (with TLS when DOCKER_CERT_PATH,
// DOCKER_TLS_VERIFY or DOCKER_TLS say so, as for DOCKER_HOST), or
// ssh://[USER@]HOST[:PORT] (through the ssh client on PATH, which runs
// `docker system dial-stdio` on the host; its own configuration and agent
// say which key logs in). It wins over DOCKER_HOST, DOCKER_CONTEXT and the
// docker CLI's current context. NewRunner fails when an earlier option
// (WithHost, WithHosts, WithContext, WithClient) chose the engine already,
// as the docker CLI refuses --host with --context, and when the host is
// malformed or its TLS files cannot be read; the engine itself is first
// reached by the first call.
func WithHost(host string) RunnerOption {
	return func(r *Runner) error { return r.useEngine(fmt.Sprintf("WithHost(%q)", redactHost(host)), host, "") }
}

// WithContext makes the Runner talk to the engine of the docker CLI
// context name (`docker context ls`), as `docker --context` does: its host
// and TLS material are read from the context store of the docker
// configuration directory ($DOCKER_CONFIG, or ~/.docker). "default" is the
// engine of DOCKER_HOST, or the local one. It wins over DOCKER_HOST,
// DOCKER_CONTEXT and the current context. NewRunner fails when the
// context does not exist or its TLS material cannot be read, and when an
// earlier option chose the engine already.
func WithContext(name string) RunnerOption {
	return func(r *Runner) error { return r.useEngine(fmt.Sprintf("WithContext(%q)", name), "", name) }
}

// useEngine makes the client of the engine that host or contextName
// names, for WithHost or WithContext (option).
func (r *Runner) useEngine(option, host, contextName string) error {
	if r.api != nil {
		return fmt.Errorf("oneshot: %s: the engine is already chosen by another WithHost, WithHosts, WithContext or WithClient; give one of them", option)
	}
	if host == "" && contextName == "" {
		return fmt.Errorf("oneshot: %s: empty; leave the option out to use DOCKER_HOST, DOCKER_CONTEXT or the current context", option)
	}
	c, closer, err := newEngineClient(host, contextName)
	if err != nil {
		return err
	}
	r.api, r.closer = c, closer
	return nil
}

// WithHosts makes the Runner talk to the swarm through several of its
// managers, each given as WithHost takes it ("tcp://10.0.0.1:2375",
// "ssh://admin@manager-2", with TLS from the environment as for
// DOCKER_HOST). It uses the first; when the manager in use stops
// answering (refused, broken, or silent for 10 s) or answers that it is no
// manager or has no leader, it moves to the next and makes the call again
// there, and jobs in flight keep waiting: their output is followed again
// from the new manager. Give WithHosts instead of WithHost, WithContext or
// WithClient. The Runner closes the clients it makes.
func WithHosts(hosts ...string) RunnerOption {
	return func(r *Runner) error {
		if r.api != nil {
			return fmt.Errorf("oneshot: WithHosts: the engine is already chosen by another WithHost, WithHosts, WithContext or WithClient; give one of them")
		}
		if err := checkHosts(hosts); err != nil {
			return err
		}
		f, err := dialFailover(hosts, func() *slog.Logger { return r.log })
		if err != nil {
			return err
		}
		r.api, r.closer = f, f
		return nil
	}
}

// PruneOption narrows what Prune removes.
type PruneOption func(*pruneConfig)

// PruneOlderThan removes only job services created more than d ago.
func PruneOlderThan(d time.Duration) PruneOption {
	return func(c *pruneConfig) { c.olderThan = d }
}

// PruneLabel removes only job services that have the label, given as "KEY"
// (any value) or "KEY=VALUE", as `docker service ls --filter label=...`
// takes it. Use it once per label; a service must have them all.
func PruneLabel(label string) PruneOption {
	return func(c *pruneConfig) { c.labels = append(c.labels, label) }
}

// PruneDryRun lists what Prune would remove without removing it.
func PruneDryRun() PruneOption {
	return func(c *pruneConfig) { c.dryRun = true }
}
