package oneshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/swarm"
	"go.yaml.in/yaml/v3"
)

// FromCompose returns a JobSpec that runs a job as the task of the service
// named service would run, were the compose file at path deployed with
// `docker stack deploy -c path stack`. It reads the file only: it asks no
// Docker engine, and leaves checking the spec to Start (or Validate). Like
// FromService, it is what a migration or an admin command of a stack needs;
// options given to Run or Start after it override what it took, e.g.
// WithCommand("migrate", "up").
//
// Taken over, as FromService takes them from a deployed service: image,
// entrypoint and command, environment (environment and env_file, resolved
// as compose resolves them; a variable given without a value takes this
// process's, and is left out when this process has none), user, working_dir,
// networks (without aliases, so that the job does not answer for the
// service), secrets and configs (same targets, uid, gid and mode), volumes
// (named volumes with their driver, driver_opts and labels; bind mounts,
// relative paths made absolute against the compose file's directory; tmpfs
// with its size), deploy.placement constraints and preferences,
// deploy.resources limits and reservations of cpus and memory, the logging
// driver and options (json-file, local or journald only: with another, the
// job keeps the node's default so that its output can be read),
// stop_grace_period, and the labels of deploy.labels and labels but for
// the stack's (LabelStackNamespace) and oneshot's (keys starting with
// "oneshot."). build is ignored when the service has an image, as docker
// stack deploy ignores it; profiles do not matter, as docker stack deploy
// deploys every service.
//
// Not taken over: deploy mode and replicas, ports and endpoint mode, update
// and rollback configs, healthcheck, restart policy (a job runs once; see
// WithRetries), the stack namespace label (a job that carried it would be
// removed by a concurrent `docker stack deploy --prune`), and the container
// settings that a JobSpec has no field for (hostname, DNS and extra hosts,
// capabilities, sysctls, ulimits, init, stop signal, TTY). The job is
// labelled LabelFromService=STACK_SERVICE, the name the deployed service
// would have.
//
// Names follow docker stack deploy: a network, secret, config or volume KEY
// of the file is STACK_KEY on the swarm, unless it is external (then KEY) or
// has a name: of its own (then that name). A service that lists no networks
// is on STACK_default. Secrets are at /run/secrets/SOURCE unless they have a
// target; configs at /SOURCE.
//
// ${VAR}, ${VAR:-default} and ${VAR:?message} take their values from this
// process's environment only: like docker stack deploy, FromCompose reads no
// .env file.
//
// Errors are *SourceError values naming the file and the key at fault: a
// service that is not in the file (matching ErrServiceNotFound), build
// without image, a depends_on condition other than service_started,
// settings that a swarm task cannot have (network_mode, privileged, devices,
// pid, ipc) or that docker stack deploy refuses (volumes_from,
// volume_driver, mem_limit, memswap_limit, cpu_quota, cpu_shares, cpuset),
// mounts a job cannot have (npipe, cluster, image, a volume subpath, a bind
// source that is not an absolute path), an include, an invalid stack name,
// a file that does not load, and a required variable that is not set.
func FromCompose(path, stack, service string) (JobSpec, error) {
	if !stackNamePattern.MatchString(stack) {
		return JobSpec{}, &SourceError{Source: path, Problem: fmt.Sprintf("stack name %q is not valid", stack),
			Fix: "use letters, digits, '-' and '_', starting with a letter or digit, as in `docker stack deploy -c FILE STACK`"}
	}
	project, err := loadComposeProject(path, stack)
	if err != nil {
		return JobSpec{}, err
	}
	svc, ok := project.Services[service]
	if !ok {
		return JobSpec{}, &SourceError{Source: path, Key: "services." + service,
			Problem: "no such service", Fix: "choose one of the file's services: " + strings.Join(slices.Sorted(maps.Keys(project.Services)), ", "),
			Err: ErrServiceNotFound}
	}
	s := &stackService{file: path, stack: stack, project: project, svc: svc}
	return s.jobSpec()
}

// stackNamePattern is what a stack name must be for STACK_SERVICE to be a
// valid service name.
var stackNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]*$`)

// loadComposeProject loads the compose file as docker stack deploy would
// deploy it as the stack: interpolated from this process's environment
// only, every profile enabled, relative paths made absolute against the
// file's directory.
func loadComposeProject(file, stack string) (project *types.Project, err error) {
	model, err := readComposeModel(file)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, &SourceError{Source: file, Problem: fmt.Sprintf("find its directory: %v", err), Err: err}
	}
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs, Config: model}},
		Environment: types.NewMapping(os.Environ()),
	}
	// The library asserts the types that its schema checked; should an
	// input slip through, FromCompose reports it instead of panicking.
	defer func() {
		if r := recover(); r != nil {
			project, err = nil, &SourceError{Source: file, Problem: fmt.Sprintf("the compose library failed on it: %v", r),
				Fix: "check the file with `docker stack config -c FILE`"}
		}
	}()
	project, err = loader.LoadWithContext(context.Background(), details, loader.WithProfiles([]string{"*"}), func(o *loader.Options) {
		o.SetProjectName(composeProjectName(stack), true)
		// The loader adds COMPOSE_PROJECT_NAME to the environment it
		// interpolates from; docker stack deploy does not.
		o.Interpolate.LookupValue = os.LookupEnv
		// env_file is read as docker stack deploy reads it (environment).
		o.SkipResolveEnvironment = true
	})
	if err != nil {
		return nil, composeLoadError(file, err)
	}
	return project, nil
}

// readComposeModel parses the file's first YAML document, as docker stack
// deploy does, into the model that the compose library loads. It drops the
// top-level version, which docker stack deploy reads and the library would
// warn about (on the global logrus logger, recording that it did in a
// global that concurrent loads race on), and refuses include, which docker
// stack deploy does not know and the library would resolve reading .env
// files.
func readComposeModel(file string) (map[string]any, error) {
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, &SourceError{Source: file, Problem: fmt.Sprintf("read the compose file: %v", err), Fix: "check the path given to FromCompose", Err: err}
	}
	var model map[string]any
	if err := yaml.Unmarshal(content, &model); err != nil {
		return nil, &SourceError{Source: file, Problem: fmt.Sprintf("not a compose file: %v", err), Fix: "check its YAML", Err: err}
	}
	if model == nil {
		return nil, &SourceError{Source: file, Problem: "empty", Fix: "define the stack's services under services:"}
	}
	if _, ok := model["include"]; ok {
		return nil, &SourceError{Source: file, Key: "include", Problem: "docker stack deploy does not support include",
			Fix: "merge the included files into this one (`docker compose config` prints the merged file)"}
	}
	delete(model, "version")
	return model, nil
}

// composeProjectName is the stack's name as the compose library takes
// project names: in lower case (a valid stack name is otherwise valid).
func composeProjectName(stack string) string {
	return strings.ToLower(stack)
}

// interpolationKeyPattern finds the key in the compose library's
// interpolation errors.
var interpolationKeyPattern = regexp.MustCompile(`^error while interpolating (\S+): `)

// composeLoadError explains an error of the compose library.
func composeLoadError(file string, err error) error {
	var missing *template.MissingRequiredError
	if errors.As(err, &missing) {
		key := ""
		if m := interpolationKeyPattern.FindStringSubmatch(err.Error()); m != nil {
			key = strings.ReplaceAll(m[1], ".[]", "[]")
		}
		return &SourceError{Source: file, Key: key, Problem: missing.Error(),
			Fix: fmt.Sprintf("set %s in this process's environment (docker stack deploy reads no .env file)", missing.Variable), Err: err}
	}
	return &SourceError{Source: file, Problem: fmt.Sprintf("cannot load it: %v", err), Fix: "check the file with `docker stack config -c FILE`", Err: err}
}

// stackService maps one service of a loaded compose file to a JobSpec.
type stackService struct {
	file, stack string
	project     *types.Project
	svc         types.ServiceConfig
}

// fail returns the *SourceError of the service's setting key.
func (s *stackService) fail(key, problem, fix string) error {
	return &SourceError{Source: s.file, Key: "services." + s.svc.Name + "." + key, Problem: problem, Fix: fix}
}

// jobSpec maps the service, once checked, to the JobSpec of its job.
func (s *stackService) jobSpec() (JobSpec, error) {
	if err := s.checkSwarmCanRun(); err != nil {
		return JobSpec{}, err
	}
	mounts, err := s.mounts()
	if err != nil {
		return JobSpec{}, err
	}
	env, err := s.environment()
	if err != nil {
		return JobSpec{}, err
	}
	svc := s.svc
	spec := JobSpec{
		Image:           svc.Image,
		Entrypoint:      cloneOrNil(svc.Entrypoint),
		Command:         cloneOrNil(svc.Command),
		Env:             env,
		User:            svc.User,
		Workdir:         svc.WorkingDir,
		Networks:        s.networks(),
		Mounts:          mounts,
		Secrets:         s.secrets(),
		Configs:         s.configs(),
		LogDriver:       composeLogDriver(svc.Logging),
		StopGracePeriod: composeDuration(svc.StopGracePeriod),
		fromService:     s.stack + "_" + svc.Name,
	}
	var deployLabels types.Labels
	if d := svc.Deploy; d != nil {
		deployLabels = d.Labels
		spec.Constraints, spec.PlacementPreferences = composePlacement(d.Placement)
		spec.Resources = composeResources(d.Resources)
	}
	spec.Labels = ownLabels(deployLabels, svc.Labels)
	return spec, nil
}

// checkSwarmCanRun refuses the settings that a swarm task cannot have and
// that docker stack deploy would ignore or refuse: a job made without them
// would not run as the user expects.
func (s *stackService) checkSwarmCanRun() error {
	svc := s.svc
	if svc.Build != nil && svc.Image == "" {
		return s.fail("build", "a swarm cannot build images", "build and push the image, and name it with image:")
	}
	for _, name := range slices.Sorted(maps.Keys(svc.DependsOn)) {
		if c := svc.DependsOn[name].Condition; c != "" && c != types.ServiceConditionStarted {
			return s.fail("depends_on."+name+".condition", fmt.Sprintf("swarm ignores condition %s: the job would not wait for %s", c, name),
				"remove the condition, and make the job wait for "+name+" itself if it must")
		}
	}
	for _, u := range unsupportedSettings {
		if u.isSet(svc) {
			return s.fail(u.key, u.problem, u.fix)
		}
	}
	return nil
}

// unsupportedSettings are the service settings that a swarm task cannot
// have (docker stack deploy ignores them), or that docker stack deploy
// refuses.
var unsupportedSettings = []struct {
	key          string
	isSet        func(types.ServiceConfig) bool
	problem, fix string
}{
	{"network_mode", func(s types.ServiceConfig) bool { return s.NetworkMode != "" }, "a swarm task has no network mode", "attach the service to networks instead"},
	{"privileged", func(s types.ServiceConfig) bool { return s.Privileged }, "a swarm task cannot be privileged", "remove it"},
	{"devices", func(s types.ServiceConfig) bool { return len(s.Devices) > 0 }, "a swarm task cannot have devices", "remove them"},
	{"pid", func(s types.ServiceConfig) bool { return s.Pid != "" }, "a swarm task cannot share a PID namespace", "remove it"},
	{"ipc", func(s types.ServiceConfig) bool { return s.Ipc != "" }, "a swarm task cannot share an IPC namespace", "remove it"},
	{"volumes_from", func(s types.ServiceConfig) bool { return len(s.VolumesFrom) > 0 }, "docker stack deploy refuses it", "share a named volume of the top-level volumes: instead"},
	{"volume_driver", func(s types.ServiceConfig) bool { return s.VolumeDriver != "" }, "docker stack deploy refuses it", "set the driver of the top-level volume instead"},
	{"mem_limit", func(s types.ServiceConfig) bool { return s.MemLimit != 0 }, "docker stack deploy refuses it", "set deploy.resources.limits.memory instead"},
	{"memswap_limit", func(s types.ServiceConfig) bool { return s.MemSwapLimit != 0 }, "docker stack deploy refuses it", "set deploy.resources instead"},
	{"cpu_quota", func(s types.ServiceConfig) bool { return s.CPUQuota != 0 }, "docker stack deploy refuses it", "set deploy.resources.limits.cpus instead"},
	{"cpu_shares", func(s types.ServiceConfig) bool { return s.CPUShares != 0 }, "docker stack deploy refuses it", "set deploy.resources instead"},
	{"cpuset", func(s types.ServiceConfig) bool { return s.CPUSet != "" }, "docker stack deploy refuses it", "set deploy.resources instead"},
}

// stackName is the name that docker stack deploy gives on the swarm to the
// resource key of the file, whose name the compose library resolved: its
// own when it is external or named, else STACK_KEY.
func (s *stackService) stackName(key, name string, external bool) string {
	// The library names the other resources PROJECT_KEY, with the project
	// name in lower case where the stack's may not be.
	if external || name != composeProjectName(s.stack)+"_"+key {
		return name
	}
	return s.stack + "_" + key
}

// networks attaches the job to the service's networks, without aliases,
// in the order of their names as docker stack deploy does. The library
// puts a service that lists none on the default network.
func (s *stackService) networks() []NetworkAttachment {
	var out []NetworkAttachment
	for key := range s.svc.Networks {
		n := s.project.Networks[key]
		out = append(out, NetworkAttachment{Name: s.stackName(key, n.Name, bool(n.External))})
	}
	slices.SortFunc(out, func(a, b NetworkAttachment) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// secrets gives the job the service's secrets, sorted by name as docker
// stack deploy does, with its defaults: at /run/secrets/SOURCE (which the
// library writes out and the engine takes as SOURCE), owned by root, mode
// 0444.
func (s *stackService) secrets() []SecretRef {
	var out []SecretRef
	for _, ref := range s.svc.Secrets {
		secret := s.project.Secrets[ref.Source]
		target := ref.Target
		if target == "" || target == path.Join("/run/secrets", ref.Source) {
			target = ref.Source
		}
		out = append(out, SecretRef{Name: s.stackName(ref.Source, secret.Name, bool(secret.External)), Target: target,
			UID: orDefault(ref.UID, "0"), GID: orDefault(ref.GID, "0"), Mode: composeFileMode(ref.Mode)})
	}
	slices.SortStableFunc(out, func(a, b SecretRef) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// configs gives the job the service's configs, sorted by name as docker
// stack deploy does, with its defaults: at /SOURCE (the engine takes a
// relative target from /), owned by root, mode 0444.
func (s *stackService) configs() []ConfigRef {
	var out []ConfigRef
	for _, ref := range s.svc.Configs {
		config := s.project.Configs[ref.Source]
		target := ref.Target
		if target == "" {
			target = ref.Source
		}
		out = append(out, ConfigRef{Name: s.stackName(ref.Source, config.Name, bool(config.External)), Target: path.Join("/", target),
			UID: orDefault(ref.UID, "0"), GID: orDefault(ref.GID, "0"), Mode: composeFileMode(ref.Mode)})
	}
	slices.SortStableFunc(out, func(a, b ConfigRef) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// mounts are the service's volumes as the job's mounts, in order.
func (s *stackService) mounts() ([]Mount, error) {
	var out []Mount
	for i, v := range s.svc.Volumes {
		key := fmt.Sprintf("volumes[%d]", i)
		var m Mount
		var err error
		switch v.Type {
		case types.VolumeTypeVolume, "":
			m, err = s.volumeMount(key, v)
		case types.VolumeTypeBind:
			m, err = s.bindMount(key, v)
		case types.VolumeTypeTmpfs:
			m = Mount{Type: MountTmpfs, Target: v.Target, ReadOnly: v.ReadOnly}
			if v.Tmpfs != nil {
				m.TmpfsSize = int64(v.Tmpfs.Size)
			}
		default:
			err = s.fail(key, fmt.Sprintf("a %s mount, which a job cannot have", v.Type), "use a volume, bind or tmpfs mount")
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// volumeMount mounts a named volume as docker stack deploy does: with the
// driver, options and labels of its top-level definition (and the stack's
// namespace label) unless it is external, so that a node that does not have
// it yet creates it alike. An anonymous volume has no source, and docker
// stack deploy gives it no options.
func (s *stackService) volumeMount(key string, v types.ServiceVolumeConfig) (Mount, error) {
	m := Mount{Type: MountVolume, Target: v.Target, ReadOnly: v.ReadOnly}
	if v.Source == "" {
		return m, nil
	}
	if o := v.Volume; o != nil {
		if o.Subpath != "" {
			return Mount{}, s.fail(key+".volume.subpath", "a job cannot mount a volume's subpath", "mount the whole volume")
		}
		m.NoCopy = o.NoCopy
	}
	vol := s.project.Volumes[v.Source]
	m.Source = s.stackName(v.Source, vol.Name, bool(vol.External))
	if vol.External {
		return m, nil
	}
	m.VolumeLabels = map[string]string{}
	maps.Copy(m.VolumeLabels, vol.Labels)
	m.VolumeLabels[LabelStackNamespace] = s.stack
	m.VolumeDriver, m.VolumeDriverOptions = vol.Driver, maps.Clone(vol.DriverOpts)
	if m.VolumeDriver == "" && len(m.VolumeDriverOptions) > 0 {
		m.VolumeDriver = "local" // the engine's driver, which docker stack deploy leaves unnamed
	}
	return m, nil
}

// bindMount mounts a path of the node; the library made relative paths
// absolute, but cannot make absolute a Windows path.
func (s *stackService) bindMount(key string, v types.ServiceVolumeConfig) (Mount, error) {
	if !path.IsAbs(v.Source) {
		return Mount{}, s.fail(key, fmt.Sprintf("bind source %q is not an absolute path", v.Source),
			"give the absolute path on the nodes, or a path relative to the compose file")
	}
	m := Mount{Type: MountBind, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
	if v.Bind != nil {
		m.BindPropagation = v.Bind.Propagation
	}
	return m, nil
}

// environment is the service's environment as docker stack deploy makes
// it: the variables of the env_file files, in order, read in docker's
// --env-file format (values taken literally: no quotes removed, nothing
// expanded), then those of environment over them. A variable whose value
// is missing or empty takes this process's value when it has one; one
// that is still without a value is left out. Sorted, as docker sorts them.
func (s *stackService) environment() ([]string, error) {
	vars := map[string]*string{}
	for i, f := range s.svc.EnvFiles {
		lines, err := readEnvFile(f.Path, os.LookupEnv)
		if err != nil && !f.Required && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, s.fail(fmt.Sprintf("env_file[%d]", i), fmt.Sprintf("%s: %v", f.Path, errors.Unwrap(err)), "check the file's path, relative to the compose file's directory")
		}
		for _, kv := range lines {
			k, v, _ := strings.Cut(kv, "=")
			setFromEnvironment(vars, k, &v)
		}
	}
	for k, v := range s.svc.Environment {
		setFromEnvironment(vars, k, v)
	}
	var out []string
	for k, v := range vars {
		if v != nil {
			out = append(out, k+"="+*v)
		}
	}
	slices.Sort(out)
	return out, nil
}

// setFromEnvironment sets the variable k to v, or to this process's value
// when v is missing or empty and the process has one, as docker stack
// deploy does.
func setFromEnvironment(vars map[string]*string, k string, v *string) {
	if v == nil || *v == "" {
		if own, ok := os.LookupEnv(k); ok {
			v = &own
		}
	}
	vars[k] = v
}

func composeLogDriver(l *types.LoggingConfig) LogDriver {
	if l == nil {
		return LogDriver{}
	}
	return logDriverFromService(&swarm.Driver{Name: l.Driver, Options: l.Options})
}

func composePlacement(p types.Placement) (constraints, preferences []string) {
	for _, pref := range p.Preferences {
		preferences = append(preferences, "spread="+pref.Spread)
	}
	return cloneOrNil(p.Constraints), preferences
}

func composeResources(r types.Resources) Resources {
	var out Resources
	if l := r.Limits; l != nil {
		out.CPULimit, out.MemoryLimit = composeCPUs(l.NanoCPUs), int64(l.MemoryBytes)
	}
	if res := r.Reservations; res != nil {
		out.CPUReservation, out.MemoryReservation = composeCPUs(res.NanoCPUs), int64(res.MemoryBytes)
	}
	return out
}

// composeCPUs returns the CPUs that the library keeps as a float32 as the
// number written in the file: 1.1, not 1.100000023841858.
func composeCPUs(cpus types.NanoCPUs) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(cpus), 'g', -1, 32), 64)
	return f
}

func composeDuration(d *types.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(*d)
}

// composeFileMode is a secret's or config's file mode, 0444 by default.
func composeFileMode(m *types.FileMode) os.FileMode {
	if m == nil {
		return 0o444
	}
	return os.FileMode(*m)
}
