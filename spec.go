package oneshot

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
)

// JobSpec describes one job: what to run, with what, and how to wait for it.
// Fill it directly, with options (With...), or both: options are applied on a
// copy of the spec, in order, after the fields. The zero value of every field
// but Image is a sensible default.
type JobSpec struct {
	// Image is the image to run, e.g. "alpine:3.20" or "registry:5000/app@sha256:...".
	Image string
	// Command is what `docker run IMAGE CMD...` takes: the container's
	// arguments, passed to the image's entrypoint. No shell splits them.
	Command []string
	// Entrypoint, if set, replaces the image's entrypoint.
	Entrypoint []string
	// Env holds KEY=VALUE pairs.
	Env []string
	// Name is the service's name. Empty means a unique generated name
	// ("oneshot-" and random letters); a given name must be unique on the
	// swarm while the job's service exists.
	Name string
	// Labels go on the service and on the job's container. Keys starting
	// with "oneshot." are reserved.
	Labels map[string]string
	// User runs the job as this user (name, UID or UID:GID).
	User string
	// Workdir is the job's working directory.
	Workdir string
	// Networks attaches the job to swarm networks (overlay, attachable or
	// not), by name.
	Networks []NetworkAttachment
	// Mounts are the job's volumes, bind mounts and tmpfs.
	Mounts []Mount
	// Secrets are swarm secrets given to the job as files.
	Secrets []SecretRef
	// Configs are swarm configs given to the job as files.
	Configs []ConfigRef
	// SecretData and ConfigData are secrets and configs made for this job
	// alone from bytes the caller holds: created just before the job's
	// service(s), removed with them (see WithSecretData, WithConfigData).
	SecretData []SecretData
	ConfigData []ConfigData
	// Constraints are placement constraints, e.g. "node.role==worker".
	Constraints []string
	// PlacementPreferences spread tasks over the values of node labels, as
	// `docker service create --placement-pref` takes them, e.g.
	// "spread=node.labels.zone".
	PlacementPreferences []string
	// Resources limits and reserves CPU and memory.
	Resources Resources
	// RegistryAuth, if set, is sent with the job so that every node can pull
	// the image from a private registry.
	RegistryAuth *RegistryAuth
	// Tasks is how many tasks the job runs, each to its end (0 or 1: one).
	// Each task finds its index (0 ... Tasks-1) in ONESHOT_TASK_INDEX and
	// the count in ONESHOT_TASK_COUNT, to pick its share of the work (as
	// Kubernetes' indexed jobs). See Result.Tasks.
	Tasks int
	// Parallelism is how many of the tasks may run at once (0: all).
	Parallelism int
	// Global runs one task on every node that matches the Constraints and
	// is ready when the job starts (the swarm's global job), numbered in
	// the order of the nodes' hostnames; Tasks must then be 0.
	Global bool
	// FailFast stops the tasks still running, and starts no more, once a
	// task has failed (with WithRetries: once its last attempt failed).
	// By default every task runs to its end.
	FailFast bool
	// TaskPrefix starts each line that a job of several tasks writes to
	// Stdout and Stderr with the task's index, e.g. "[3] ".
	TaskPrefix bool
	// Retries is how many times a failed task is started again (0: never).
	// The Result is that of the last attempt; Result.Tasks has them all.
	Retries int
	// RetryDelay is the pause before each retry.
	RetryDelay time.Duration
	// Timeout bounds the job from Start on. On expiry the job is stopped
	// (see StopGracePeriod) and Wait's *StopError matches
	// context.DeadlineExceeded. Zero means no limit of its own (the
	// context may still set one).
	Timeout time.Duration
	// ScheduleTimeout bounds how long the task may wait for a node. On expiry
	// Wait returns a *TaskError wrapping ErrUnschedulable with the swarm's
	// reason. Zero means wait as long as the job may.
	ScheduleTimeout time.Duration
	// Stdout and Stderr, if set, receive the job's output live, while it
	// runs, from the job's supervisor goroutine. Nil means the output is
	// only captured in the Result. A writer that fails gets nothing more
	// (Wait reports it); the Result still gets everything.
	Stdout, Stderr io.Writer
	// OutputLimit caps the bytes of each stream kept in the Result; zero
	// means DefaultOutputLimit and a negative value keeps nothing. Output
	// beyond it still reaches Stdout and Stderr.
	OutputLimit int
	// OnStatus, if set, is called each time the job's task changes state,
	// e.g. to show progress, in order, from the job's supervisor goroutine
	// (from Start on, whether or not Wait is called). It must not block.
	OnStatus func(TaskStatus)
	// StopGracePeriod is how long the job has to exit after SIGTERM when it
	// is stopped early (timeout, cancellation, Runner.Close) before it is
	// killed. Zero means the engine's default (10 s). Wait returns once the
	// job has ended; if the swarm does not report it ended within the
	// grace period and 10 s more, the *StopError says it may still run.
	StopGracePeriod time.Duration
	// Keep leaves the service on the swarm after the job ends, for
	// inspection; Prune removes it later. A kept job is stopped all the
	// same when it must stop, and kept parked (see WithKeep).
	Keep bool
	// IdempotencyKey, if set, makes Start attach to the job started with
	// the same key while its service exists, in this process or another,
	// instead of starting a second one (see WithIdempotencyKey).
	IdempotencyKey string
	// outputFromNow makes an attached job's writers get only the output
	// logged from the attach on (WithOutputFromNow).
	outputFromNow bool
	// LogDriver, if its Name is set, replaces the node's default log
	// driver for the job's container, e.g. to keep all of a large output
	// that the default would rotate away before oneshot reads it.
	LogDriver LogDriver

	// fromService names the service that FromService made the spec from;
	// the job carries it as its LabelFromService label.
	fromService string
	// group names the job of several tasks that this task belongs to, and
	// taskIndex is its index there (LabelJob, LabelTaskIndex).
	group     string
	taskIndex int
	// usesData says the job's service, attached to, carries LabelHasData
	// (hasJobData): its data goes with it, though this spec holds none.
	usesData bool
}

// LogDriver is the log driver of a job's container and its options, as
// `docker service create --log-driver NAME --log-opt KEY=VALUE` takes them.
// oneshot reads the job's output through the engine, which serves the logs
// of the json-file, local and journald drivers only.
type LogDriver struct {
	// Name is "json-file", "local" or "journald".
	Name string
	// Options are the driver's options, e.g. {"max-size": "100m"}.
	Options map[string]string
}

// readableLogDrivers are the log drivers whose logs the engine serves.
var readableLogDrivers = map[string]bool{"json-file": true, "local": true, "journald": true}

// DefaultOutputLimit is how many bytes of each output stream a Result keeps
// when JobSpec.OutputLimit is zero.
const DefaultOutputLimit = 16 << 20

// NetworkAttachment attaches a job to a swarm network.
type NetworkAttachment struct {
	// Name is the network's name or ID.
	Name string
	// Aliases are extra DNS names for the job on that network.
	Aliases []string
}

// MountType is the kind of a Mount.
type MountType string

// The kinds of mount a job can have.
const (
	MountVolume MountType = "volume" // a named (or anonymous) volume
	MountBind   MountType = "bind"   // a path of the node's file system
	MountTmpfs  MountType = "tmpfs"  // a file system in memory
)

// Mount is one of a job's mounts.
type Mount struct {
	// Type is the kind of mount; empty means MountVolume.
	Type MountType
	// Source is the volume's name, or the node's absolute path for a bind
	// mount; it must be empty for tmpfs.
	Source string
	// Target is the absolute path inside the container.
	Target string
	// ReadOnly mounts it read-only.
	ReadOnly bool
	// TmpfsSize caps a tmpfs, in bytes (0: no cap of its own).
	TmpfsSize int64
	// VolumeDriver, VolumeDriverOptions and VolumeLabels create a volume
	// that does not exist yet on the node with that driver (e.g. "local"
	// with {"type": "nfs", ...}), its options and labels; empty means the
	// engine's default driver.
	VolumeDriver        string
	VolumeDriverOptions map[string]string
	VolumeLabels        map[string]string
	// NoCopy leaves a new volume empty instead of copying the image's
	// files at Target into it.
	NoCopy bool
	// BindPropagation is a bind mount's propagation: "rprivate" (the
	// default), "private", "rshared", "shared", "rslave" or "slave".
	BindPropagation string
}

// SecretRef gives a job a swarm secret as a file.
type SecretRef struct {
	// Name is the secret's name on the swarm.
	Name string
	// Target is the file's path: relative to /run/secrets, or absolute.
	// Empty means /run/secrets/NAME.
	Target string
	// UID and GID own the file ("0" when empty).
	UID, GID string
	// Mode is the file's mode (0444 when zero).
	Mode os.FileMode
}

// ConfigRef gives a job a swarm config as a file.
type ConfigRef struct {
	// Name is the config's name on the swarm.
	Name string
	// Target is the file's absolute path; empty means /NAME.
	Target string
	// UID and GID own the file ("0" when empty).
	UID, GID string
	// Mode is the file's mode (0444 when zero).
	Mode os.FileMode
}

// Resources limits and reserves a job's CPU and memory. Zero means no limit
// or reservation.
type Resources struct {
	// CPULimit and CPUReservation are in CPUs, e.g. 0.5.
	CPULimit, CPUReservation float64
	// MemoryLimit and MemoryReservation are in bytes.
	MemoryLimit, MemoryReservation int64
}

// Labels that oneshot puts on every job service and container. Prune finds
// job services by LabelManaged.
const (
	LabelManaged = "oneshot.managed" // "true"
	LabelCreated = "oneshot.created" // the creation time, RFC 3339
	// LabelFromService names the service that a job made with FromService
	// or FromCompose takes its settings from.
	LabelFromService = "oneshot.from-service"
	// LabelIdempotencyKey holds the key a job was started with
	// (WithIdempotencyKey).
	LabelIdempotencyKey = "oneshot.idempotency-key"
	// LabelKeep says the job's service stays once it is over (WithKeep).
	LabelKeep = "oneshot.keep" // "true"
	// LabelDeadline is when the job's timeout expires (RFC 3339), and
	// LabelTimeout the timeout itself: a process that attaches to the job
	// stops it then too.
	LabelDeadline = "oneshot.deadline"
	LabelTimeout  = "oneshot.timeout"
	// LabelScheduleTimeout is the job's schedule timeout.
	LabelScheduleTimeout = "oneshot.schedule-timeout"
)

var (
	// serviceNamePattern is swarmkit's rule for service names.
	serviceNamePattern = regexp.MustCompile(`^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`)
	envKeyPattern      = regexp.MustCompile(`^[^=\s]+$`)
	constraintPattern  = regexp.MustCompile(`^\s*[A-Za-z0-9_.\-]+\s*(==|!=)\s*\S.*$`)
	preferencePattern  = regexp.MustCompile(`^spread=\S+$`)
)

// Validate reports every field of the spec that cannot work, as *SpecError
// values joined with errors.Join; nil means the spec is ready to run. Start
// calls it; call it yourself to check a spec early.
func (s *JobSpec) Validate() error {
	var errs []error
	add := func(field, problem, fix string) {
		errs = append(errs, &SpecError{Field: field, Problem: problem, Fix: fix})
	}
	s.validateImageAndName(add)
	s.validateEnv(add)
	s.validateMounts(add)
	s.validateFiles(add)
	s.validateData(add)
	s.validateScheduling(add)
	s.validateLogDriver(add)
	s.validateTasks(add)
	return errors.Join(errs...)
}

type addSpecError func(field, problem, fix string)

func (s *JobSpec) validateImageAndName(add addSpecError) {
	switch {
	case s.Image == "":
		add("Image", "empty", `set the image to run, e.g. JobSpec{Image: "alpine:3.20"}`)
	default:
		if _, err := reference.ParseNormalizedNamed(s.Image); err != nil {
			add("Image", fmt.Sprintf("%q is not an image reference: %v", s.Image, err), "use NAME[:TAG][@DIGEST], in lower case")
		}
	}
	if s.Name != "" && (len(s.Name) > 63 || !serviceNamePattern.MatchString(s.Name)) {
		add("Name", fmt.Sprintf("%q is not a valid service name", s.Name), "use up to 63 letters, digits, '-' and '_', starting and ending with a letter or digit, or leave it empty for a unique name")
	}
	for k := range s.Labels {
		if k == "" {
			add("Labels", "empty key", "")
		} else if strings.HasPrefix(k, "oneshot.") {
			add("Labels["+k+"]", "the oneshot. prefix is reserved for oneshot's own labels", "choose another key")
		}
	}
}

func (s *JobSpec) validateEnv(add addSpecError) {
	for i, kv := range s.Env {
		key, _, ok := strings.Cut(kv, "=")
		if !ok || !envKeyPattern.MatchString(key) {
			add(fmt.Sprintf("Env[%d]", i), fmt.Sprintf("%q is not KEY=VALUE", kv), "write KEY=VALUE, or use WithEnvFile for a file where KEY alone takes your own value")
		}
	}
}

func (s *JobSpec) validateMounts(add addSpecError) {
	targets := map[string]bool{}
	for i, m := range s.Mounts {
		field := fmt.Sprintf("Mounts[%d]", i)
		if !path.IsAbs(m.Target) {
			add(field+".Target", fmt.Sprintf("%q is not an absolute path", m.Target), "give the path inside the container, starting with /")
		} else if targets[path.Clean(m.Target)] {
			add(field+".Target", fmt.Sprintf("%q is mounted twice", m.Target), "")
		}
		targets[path.Clean(m.Target)] = true
		switch m.Type {
		case "", MountVolume:
			if strings.Contains(m.Source, "/") {
				add(field+".Source", fmt.Sprintf("%q is a path, not a volume name", m.Source), "use MountBind (WithBind) to mount a path of the node")
			}
		case MountBind:
			if !path.IsAbs(m.Source) {
				add(field+".Source", fmt.Sprintf("bind source %q is not an absolute path", m.Source), "give the absolute path on the node, or use MountVolume for a named volume")
			}
		case MountTmpfs:
			if m.Source != "" {
				add(field+".Source", "a tmpfs has no source", "leave Source empty")
			}
		default:
			add(field+".Type", fmt.Sprintf("unknown mount type %q", m.Type), "use MountVolume, MountBind or MountTmpfs")
		}
		if m.TmpfsSize < 0 || (m.TmpfsSize > 0 && m.Type != MountTmpfs) {
			add(field+".TmpfsSize", "only a tmpfs takes a positive size", "")
		}
		validateMountOptions(field, m, add)
	}
}

// validateMountOptions checks the options that belong to one kind of mount.
func validateMountOptions(field string, m Mount, add addSpecError) {
	isVolume := m.Type == "" || m.Type == MountVolume
	if !isVolume && (m.VolumeDriver != "" || len(m.VolumeDriverOptions) > 0 || len(m.VolumeLabels) > 0 || m.NoCopy) {
		add(field, "volume driver, options, labels and NoCopy apply to volumes only", "remove them, or make it a MountVolume")
	}
	if isVolume && m.VolumeDriver == "" && len(m.VolumeDriverOptions) > 0 {
		add(field+".VolumeDriver", "empty, with driver options", `name the driver the options are for, e.g. "local"`)
	}
	switch m.BindPropagation {
	case "":
	case "rprivate", "private", "rshared", "shared", "rslave", "slave":
		if m.Type != MountBind {
			add(field+".BindPropagation", "only a bind mount has a propagation", "remove it, or make it a MountBind")
		}
	default:
		add(field+".BindPropagation", fmt.Sprintf("unknown propagation %q", m.BindPropagation), `use "rprivate", "private", "rshared", "shared", "rslave" or "slave"`)
	}
}

func (s *JobSpec) validateFiles(add addSpecError) {
	secretTargets := map[string]bool{}
	for i, ref := range s.Secrets {
		field := fmt.Sprintf("Secrets[%d]", i)
		if ref.Name == "" {
			add(field+".Name", "empty", "name a secret made with `docker secret create`")
		}
		if target := secretPath(ref); secretTargets[target] {
			add(field+".Target", fmt.Sprintf("two secrets at %q", target), "give one of them another Target")
		} else {
			secretTargets[target] = true
		}
	}
	configTargets := map[string]bool{}
	for i, ref := range s.Configs {
		field := fmt.Sprintf("Configs[%d]", i)
		if ref.Name == "" {
			add(field+".Name", "empty", "name a config made with `docker config create`")
		}
		if ref.Target != "" && !path.IsAbs(ref.Target) {
			add(field+".Target", fmt.Sprintf("%q is not an absolute path", ref.Target), "give the file's absolute path inside the container")
		} else if target := path.Clean(configTarget(ref)); configTargets[target] {
			add(field+".Target", fmt.Sprintf("two configs at %q", target), "give one of them another Target")
		} else {
			configTargets[target] = true
		}
	}
	for i, n := range s.Networks {
		if n.Name == "" {
			add(fmt.Sprintf("Networks[%d].Name", i), "empty", "name a swarm network, e.g. made with `docker network create -d overlay --attachable NAME`")
		}
	}
}

func (s *JobSpec) validateScheduling(add addSpecError) {
	for i, c := range s.Constraints {
		if !constraintPattern.MatchString(c) {
			add(fmt.Sprintf("Constraints[%d]", i), fmt.Sprintf("%q is not a constraint", c), `write ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE, e.g. "node.role==worker"`)
		}
	}
	for i, p := range s.PlacementPreferences {
		if !preferencePattern.MatchString(p) {
			add(fmt.Sprintf("PlacementPreferences[%d]", i), fmt.Sprintf("%q is not a placement preference", p), `write spread=NODE_LABEL, e.g. "spread=node.labels.zone"`)
		}
	}
	r := s.Resources
	if r.CPULimit < 0 || r.CPUReservation < 0 || r.MemoryLimit < 0 || r.MemoryReservation < 0 {
		add("Resources", "negative", "use zero for no limit or reservation")
	}
	if !isFinite(r.CPULimit) || !isFinite(r.CPUReservation) {
		add("Resources", "CPUs not a finite number", "give a number of CPUs such as 0.5 or 2")
	}
	for _, d := range []struct {
		field string
		value time.Duration
	}{{"Timeout", s.Timeout}, {"ScheduleTimeout", s.ScheduleTimeout}, {"RetryDelay", s.RetryDelay}, {"StopGracePeriod", s.StopGracePeriod}} {
		if d.value < 0 {
			add(d.field, fmt.Sprintf("negative (%s)", d.value), "use zero for no limit")
		}
	}
	if s.Retries < 0 {
		add("Retries", fmt.Sprintf("negative (%d)", s.Retries), "use zero for no retry")
	}
}

// maxTasks bounds the tasks of one job: each is a service of its own.
const maxTasks = 10000

// maxKeyLength bounds an idempotency key (a label value).
const maxKeyLength = 256

func (s *JobSpec) validateTasks(add addSpecError) {
	switch {
	case s.Tasks < 0 || s.Tasks > maxTasks:
		add("Tasks", fmt.Sprintf("%d is out of range", s.Tasks), fmt.Sprintf("run 1 to %d tasks (0 means 1)", maxTasks))
	case s.Global && s.Tasks > 1:
		add("Tasks", fmt.Sprintf("%d tasks for a global job", s.Tasks), "leave Tasks at 0 with Global: the nodes make the count")
	}
	if s.Parallelism < 0 {
		add("Parallelism", fmt.Sprintf("negative (%d)", s.Parallelism), "use 0 to run all the tasks at once")
	}
	if s.IdempotencyKey != "" && s.manyTasks() {
		add("IdempotencyKey", "set for a job of several tasks", "give each task's job its own key, or leave the key out")
	}
	if len(s.IdempotencyKey) > maxKeyLength {
		add("IdempotencyKey", fmt.Sprintf("%d bytes long", len(s.IdempotencyKey)), fmt.Sprintf("use up to %d bytes, e.g. a hash of what must run once", maxKeyLength))
	}
	if s.Name != "" && s.manyTasks() && len(s.Name)+len(fmt.Sprint(maxTasks)) > 62 {
		add("Name", fmt.Sprintf("%q leaves no room for the tasks' suffixes", s.Name), "use up to 57 characters: each task's service is NAME-INDEX")
	}
}

// manyTasks says the job may run more than one task.
func (s *JobSpec) manyTasks() bool { return s.Tasks > 1 || s.Global }

func (s *JobSpec) validateLogDriver(add addSpecError) {
	d := s.LogDriver
	switch {
	case d.Name == "" && len(d.Options) > 0:
		add("LogDriver.Name", "empty, with options", `name the driver the options are for, e.g. "json-file"`)
	case d.Name != "" && !readableLogDrivers[d.Name]:
		add("LogDriver.Name", fmt.Sprintf("%q: the engine cannot serve the logs of this driver, so oneshot could not read the job's output", d.Name),
			`use "json-file", "local" or "journald"`)
	}
}

// swarmIDs maps the names of a spec's secrets, configs and networks to their
// IDs on the swarm (see resolve.go).
type swarmIDs struct {
	secrets, configs, networks map[string]string
	// secretData and configData are the secrets and configs made for the
	// job, by their Name in the spec (jobdata.go).
	secretData, configData map[string]madeData
}

// serviceSpec maps a validated JobSpec to the swarm service that runs it:
// one replica whose task is never restarted (unless retries were asked
// for), labelled as oneshot's.
//
// Not a "replicated-job" service: Engine 20.10 (and later, moby#44312,
// moby#42789) never reaps the tasks of a removed job service, so every job
// would leave its exited container behind on its node. A replicated service
// with restart condition "none" runs its task once just the same (the
// orchestrator counts a slot whose task must not restart as filled, also
// after a manager fail-over), and its tasks and containers are removed with it.
func (s *JobSpec) serviceSpec(name string, ids swarmIDs, created time.Time) swarm.ServiceSpec {
	labels := s.labels(created)
	one := uint64(1)
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name, Labels: labels},
		Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:   s.Image,
				Labels:  labels,
				Command: s.Entrypoint,
				Args:    s.Command,
				Env:     s.Env,
				Dir:     s.Workdir,
				User:    s.User,
				Mounts:  s.mounts(),
				Secrets: append(s.secretRefs(ids.secrets), s.dataSecretRefs(ids.secretData)...),
				Configs: append(s.configRefs(ids.configs), s.dataConfigRefs(ids.configData)...),

				StopGracePeriod: s.stopGracePeriod(),
			},
			Resources:     s.resources(),
			RestartPolicy: s.restartPolicy(),
			Placement:     s.placement(),
			Networks:      s.networks(ids.networks),
			LogDriver:     s.logDriver(),
		},
	}
}

func (s *JobSpec) placement() *swarm.Placement {
	p := &swarm.Placement{Constraints: s.Constraints}
	for _, pref := range s.PlacementPreferences {
		p.Preferences = append(p.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: strings.TrimPrefix(pref, "spread=")}})
	}
	return p
}

func (s *JobSpec) logDriver() *swarm.Driver {
	if s.LogDriver.Name == "" {
		return nil
	}
	return &swarm.Driver{Name: s.LogDriver.Name, Options: maps.Clone(s.LogDriver.Options)}
}

func (s *JobSpec) labels(created time.Time) map[string]string {
	labels := make(map[string]string, len(s.Labels)+2)
	for k, v := range s.Labels {
		labels[k] = v
	}
	labels[LabelManaged] = "true"
	labels[LabelCreated] = created.UTC().Format(time.RFC3339Nano)
	if s.fromService != "" {
		labels[LabelFromService] = s.fromService
	}
	if s.hasData() {
		labels[LabelHasData] = "true"
	}
	for k, v := range s.waitLabels(created) {
		labels[k] = v
	}
	if s.group != "" {
		labels[LabelJob] = s.group
		labels[LabelTaskIndex] = strconv.Itoa(s.taskIndex)
	}
	return labels
}

// waitLabels say what a process that attaches to the job must know to
// wait for it as its starter does.
func (s *JobSpec) waitLabels(created time.Time) map[string]string {
	labels := map[string]string{}
	if s.IdempotencyKey != "" {
		labels[LabelIdempotencyKey] = s.IdempotencyKey
	}
	if s.Keep {
		labels[LabelKeep] = "true"
	}
	if s.Timeout > 0 {
		labels[LabelDeadline] = created.Add(s.Timeout).UTC().Format(time.RFC3339Nano)
		labels[LabelTimeout] = s.Timeout.String()
	}
	if s.ScheduleTimeout > 0 {
		labels[LabelScheduleTimeout] = s.ScheduleTimeout.String()
	}
	return labels
}

func (s *JobSpec) mounts() []mount.Mount {
	var out []mount.Mount
	for _, m := range s.Mounts {
		mm := mount.Mount{Type: mount.TypeVolume, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case "", MountVolume:
			mm.VolumeOptions = volumeOptions(m)
		case MountBind:
			mm.Type = mount.TypeBind
			if m.BindPropagation != "" {
				mm.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(m.BindPropagation)}
			}
		case MountTmpfs:
			mm.Type = mount.TypeTmpfs
			if m.TmpfsSize > 0 {
				mm.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: m.TmpfsSize}
			}
		}
		out = append(out, mm)
	}
	return out
}

// volumeOptions are a volume mount's options, nil when it has none.
func volumeOptions(m Mount) *mount.VolumeOptions {
	if m.VolumeDriver == "" && len(m.VolumeLabels) == 0 && !m.NoCopy {
		return nil
	}
	o := &mount.VolumeOptions{NoCopy: m.NoCopy, Labels: maps.Clone(m.VolumeLabels)}
	if m.VolumeDriver != "" {
		o.DriverConfig = &mount.Driver{Name: m.VolumeDriver, Options: maps.Clone(m.VolumeDriverOptions)}
	}
	return o
}

func (s *JobSpec) secretRefs(ids map[string]string) []*swarm.SecretReference {
	var out []*swarm.SecretReference
	for _, ref := range s.Secrets {
		target := secretTarget(ref)
		out = append(out, &swarm.SecretReference{
			SecretID:   ids[ref.Name],
			SecretName: ref.Name,
			File:       &swarm.SecretReferenceFileTarget{Name: target, UID: orDefault(ref.UID, "0"), GID: orDefault(ref.GID, "0"), Mode: fileMode(ref.Mode)},
		})
	}
	return out
}

// secretTarget is where the secret's file is: its Target, or its name
// (relative targets are under /run/secrets).
func secretTarget(ref SecretRef) string {
	if ref.Target == "" {
		return ref.Name
	}
	return ref.Target
}

// secretPath is the secret file's absolute path in the container.
func secretPath(ref SecretRef) string {
	if target := secretTarget(ref); !path.IsAbs(target) {
		return path.Join("/run/secrets", target)
	}
	return path.Clean(ref.Target)
}

// configTarget is where the config's file is: its Target, or /NAME.
func configTarget(ref ConfigRef) string {
	if ref.Target == "" {
		return "/" + ref.Name
	}
	return ref.Target
}

func (s *JobSpec) configRefs(ids map[string]string) []*swarm.ConfigReference {
	var out []*swarm.ConfigReference
	for _, ref := range s.Configs {
		target := configTarget(ref)
		out = append(out, &swarm.ConfigReference{
			ConfigID:   ids[ref.Name],
			ConfigName: ref.Name,
			File:       &swarm.ConfigReferenceFileTarget{Name: target, UID: orDefault(ref.UID, "0"), GID: orDefault(ref.GID, "0"), Mode: fileMode(ref.Mode)},
		})
	}
	return out
}

func (s *JobSpec) resources() *swarm.ResourceRequirements {
	r := s.Resources
	if r == (Resources{}) {
		return nil
	}
	req := &swarm.ResourceRequirements{}
	if r.CPULimit > 0 || r.MemoryLimit > 0 {
		req.Limits = &swarm.Limit{NanoCPUs: nanoCPUs(r.CPULimit), MemoryBytes: r.MemoryLimit}
	}
	if r.CPUReservation > 0 || r.MemoryReservation > 0 {
		req.Reservations = &swarm.Resources{NanoCPUs: nanoCPUs(r.CPUReservation), MemoryBytes: r.MemoryReservation}
	}
	return req
}

// restartPolicy never restarts a job's task unless retries were asked for:
// the swarm's default ("any") would restart a failing job forever.
func (s *JobSpec) restartPolicy() *swarm.RestartPolicy {
	if s.Retries == 0 {
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}
	}
	attempts := uint64(s.Retries)
	delay := s.RetryDelay
	return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: &attempts, Delay: &delay}
}

func (s *JobSpec) networks(ids map[string]string) []swarm.NetworkAttachmentConfig {
	var out []swarm.NetworkAttachmentConfig
	for _, n := range s.Networks {
		out = append(out, swarm.NetworkAttachmentConfig{Target: ids[n.Name], Aliases: n.Aliases})
	}
	return out
}

func (s *JobSpec) stopGracePeriod() *time.Duration {
	if s.StopGracePeriod == 0 {
		return nil
	}
	d := s.StopGracePeriod
	return &d
}

func (s *JobSpec) outputLimit() int {
	switch {
	case s.OutputLimit == 0:
		return DefaultOutputLimit
	case s.OutputLimit < 0:
		return 0
	}
	return s.OutputLimit
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func fileMode(m os.FileMode) os.FileMode {
	if m == 0 {
		return 0o444
	}
	return m
}

// nanoCPUs converts CPUs to the swarm's billionths of a CPU, rounding so
// that 4.1 CPUs is 4100000000 and not 4099999999.
func nanoCPUs(cpus float64) int64 {
	return int64(math.Round(cpus * 1e9))
}

func isFinite(f float64) bool {
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}
