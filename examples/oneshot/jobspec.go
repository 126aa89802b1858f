package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"strings"
	"unicode"

	"github.com/oneshot-go/oneshot"
)

// options turns the flags into oneshot options, in the order docker reads
// them; a value that cannot be parsed is an error naming the flag. What the
// values mean together (an absolute target, a known secret...) the library
// checks before it creates anything.
func (f *runFlags) options() ([]oneshot.Option, error) {
	var opts []oneshot.Option
	for _, part := range []func() ([]oneshot.Option, error){
		f.envOptions, f.mountOptions, f.fileOptions, f.dataOptions, f.placementOptions, f.resourceOptions, f.jobOptions, f.taskOptions,
	} {
		o, err := part()
		if err != nil {
			return nil, err
		}
		opts = append(opts, o...)
	}
	return opts, nil
}

// flagError names the flag and the value that could not be parsed.
func flagError(flag, value string, err error) error {
	return fmt.Errorf("%s %q: %w", flag, value, err)
}

// envOptions are --env-file and -e, in that order, after the source's
// variables: a variable set again replaces the earlier value (-e wins over a
// file, as in docker, and both over the source's).
func (f *runFlags) envOptions() ([]oneshot.Option, error) {
	var opts []oneshot.Option
	for _, path := range f.envFiles {
		opts = append(opts, oneshot.WithEnvFile(path))
	}
	for _, kv := range f.env {
		key, value, ok, err := parseEnv(kv, os.LookupEnv)
		if err != nil {
			return nil, flagError("-e", kv, err)
		}
		if ok {
			opts = append(opts, oneshot.WithEnv(key, value))
		}
	}
	if len(opts) > 0 {
		opts = append(opts, lastValueWins)
	}
	return opts, nil
}

// lastValueWins keeps one KEY=VALUE per variable, the last given, where the
// variable first appeared: WithEnv replaces a variable, but --env-file adds
// its variables to the source's, and a variable set twice would leave the
// job's value to the engine.
func lastValueWins(s *oneshot.JobSpec) error {
	at := map[string]int{}
	var env []string
	for _, kv := range s.Env {
		key, _, _ := strings.Cut(kv, "=")
		if i, ok := at[key]; ok {
			env[i] = kv
			continue
		}
		at[key] = len(env)
		env = append(env, kv)
	}
	s.Env = env
	return nil
}

// mountOptions are --mount, -v and --tmpfs.
func (f *runFlags) mountOptions() ([]oneshot.Option, error) {
	mounts, err := f.flagMounts()
	var opts []oneshot.Option
	for _, m := range mounts {
		opts = append(opts, oneshot.WithMount(m))
	}
	return opts, err
}

// flagMounts are the mounts of --mount, -v and --tmpfs, in that order.
func (f *runFlags) flagMounts() ([]oneshot.Mount, error) {
	var mounts []oneshot.Mount
	for _, group := range []struct {
		flag  string
		specs []string
		parse func(string) (oneshot.Mount, error)
	}{{"--mount", f.mounts, parseMount}, {"-v", f.volumes, parseVolume}, {"--tmpfs", f.tmpfs, parseTmpfs}} {
		for _, spec := range group.specs {
			m, err := group.parse(spec)
			if err != nil {
				return nil, flagError(group.flag, spec, err)
			}
			mounts = append(mounts, m)
		}
	}
	return mounts, nil
}

// fileOptions are --secret and --config.
func (f *runFlags) fileOptions() ([]oneshot.Option, error) {
	secrets, err := f.flagSecrets()
	if err != nil {
		return nil, err
	}
	configs, err := f.flagConfigs()
	if err != nil {
		return nil, err
	}
	var opts []oneshot.Option
	for _, ref := range secrets {
		opts = append(opts, oneshot.WithSecretRef(ref))
	}
	for _, ref := range configs {
		opts = append(opts, oneshot.WithConfigRef(ref))
	}
	return opts, nil
}

// flagSecrets are the secrets of --secret.
func (f *runFlags) flagSecrets() ([]oneshot.SecretRef, error) {
	var refs []oneshot.SecretRef
	for _, spec := range f.secrets {
		ref, err := parseFileRef(spec)
		if err != nil {
			return nil, flagError("--secret", spec, err)
		}
		refs = append(refs, ref.secretRef())
	}
	return refs, nil
}

// flagConfigs are the configs of --config.
func (f *runFlags) flagConfigs() ([]oneshot.ConfigRef, error) {
	var refs []oneshot.ConfigRef
	for _, spec := range f.configs {
		ref, err := parseFileRef(spec)
		if err != nil {
			return nil, flagError("--config", spec, err)
		}
		refs = append(refs, ref.configRef())
	}
	return refs, nil
}

// placementOptions are --network and --constraint.
func (f *runFlags) placementOptions() ([]oneshot.Option, error) {
	networks, err := f.flagNetworks()
	if err != nil {
		return nil, err
	}
	var opts []oneshot.Option
	for _, n := range networks {
		opts = append(opts, oneshot.WithNetwork(n.Name, n.Aliases...))
	}
	for _, c := range f.constraints {
		opts = append(opts, oneshot.WithConstraint(c))
	}
	return opts, nil
}

// flagNetworks are the networks of --network.
func (f *runFlags) flagNetworks() ([]oneshot.NetworkAttachment, error) {
	var networks []oneshot.NetworkAttachment
	for _, spec := range f.networks {
		name, aliases, err := parseNetwork(spec)
		if err != nil {
			return nil, flagError("--network", spec, err)
		}
		networks = append(networks, oneshot.NetworkAttachment{Name: name, Aliases: aliases})
	}
	return networks, nil
}

// resourceOptions are the limits, reservations and registry credentials.
// Each limit or reservation given replaces the source's (0 lifts it); the
// others stay.
func (f *runFlags) resourceOptions() ([]oneshot.Option, error) {
	memory, err := parseBytes(f.memory)
	if err != nil {
		return nil, flagError("--memory", f.memory, err)
	}
	reserveMemory, err := parseBytes(f.reserveMemory)
	if err != nil {
		return nil, flagError("--reserve-memory", f.reserveMemory, err)
	}
	opts := []oneshot.Option{func(s *oneshot.JobSpec) error {
		r := &s.Resources
		setIf(f.gave("cpus"), &r.CPULimit, f.cpus)
		setIf(f.gave("memory"), &r.MemoryLimit, memory)
		setIf(f.gave("reserve-cpus"), &r.CPUReservation, f.reserveCPUs)
		setIf(f.gave("reserve-memory"), &r.MemoryReservation, reserveMemory)
		return nil
	}}
	if f.registryAuth {
		// The image is set by then: options apply after the spec's fields.
		opts = append(opts, oneshot.WithRegistryAuthFromDockerConfig())
	}
	return opts, nil
}

// setIf sets *field to value when given.
func setIf[T any](given bool, field *T, value T) {
	if given {
		*field = value
	}
}

// jobOptions are the job's identity, labels, time bounds and retries. A
// flag given replaces the source's setting, even with an empty or zero
// value (--workdir "" is the image's); one left out keeps it.
func (f *runFlags) jobOptions() ([]oneshot.Option, error) {
	opts := []oneshot.Option{func(s *oneshot.JobSpec) error {
		setIf(f.gave("u", "user"), &s.User, f.user)
		setIf(f.gave("w", "workdir"), &s.Workdir, f.workdir)
		setIf(f.gave("name"), &s.Name, f.name)
		setIf(f.gave("timeout"), &s.Timeout, f.timeout)
		setIf(f.gave("schedule-timeout"), &s.ScheduleTimeout, f.scheduleTimeout)
		setIf(f.gave("stop-timeout"), &s.StopGracePeriod, f.stopTimeout)
		setIf(f.gave("retries"), &s.Retries, f.retries)
		setIf(f.gave("retry-delay"), &s.RetryDelay, f.retryDelay)
		return nil
	}}
	for _, kv := range f.labels {
		key, value, err := parseLabel(kv)
		if err != nil {
			return nil, flagError("--label", kv, err)
		}
		opts = append(opts, oneshot.WithLabel(key, value))
	}
	if f.gave("entrypoint") {
		opts = append(opts, oneshot.WithEntrypoint(f.entrypointArgs()...))
	}
	if f.keep {
		opts = append(opts, oneshot.WithKeep())
	}
	logOpt, err := f.logDriverOption()
	if err != nil {
		return nil, err
	}
	if logOpt != nil {
		opts = append(opts, logOpt)
	}
	return opts, nil
}

// entrypointArgs is --entrypoint as the JobSpec takes it: none for an empty
// value (the image's own entrypoint), else the one program, unsplit, as
// docker takes it.
func (f *runFlags) entrypointArgs() []string {
	if f.entrypoint == "" {
		return nil
	}
	return []string{f.entrypoint}
}

// logDriverOption is --log-driver with its --log-opt values, if given. The
// --log-opt values without --log-driver add to the options of the source's
// driver; with it, they replace them.
func (f *runFlags) logDriverOption() (oneshot.Option, error) {
	if f.logDriver == "" && len(f.logOpts) == 0 {
		return nil, nil
	}
	options := map[string]string{}
	for _, kv := range f.logOpts {
		key, value, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return nil, flagError("--log-opt", kv, errors.New("want KEY=VALUE, e.g. max-size=100m"))
		}
		options[key] = value
	}
	if f.logDriver != "" {
		return oneshot.WithLogDriver(f.logDriver, options), nil
	}
	return func(s *oneshot.JobSpec) error {
		merged := maps.Clone(s.LogDriver.Options)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, options)
		return oneshot.WithLogDriver(s.LogDriver.Name, merged)(s)
	}, nil
}

// dataOptions are --secret-file, --secret-env and --config-file: their
// files and variables are read now, before anything is created, and made
// into a secret or config for this job alone. A file or variable that
// cannot be read is an error naming the flag; the value itself is never
// shown.
func (f *runFlags) dataOptions() ([]oneshot.Option, error) {
	var opts []oneshot.Option
	for _, spec := range f.secretFiles {
		name, file, err := parseNameValue(spec, "NAME=PATH")
		if err == nil {
			var data []byte
			if data, err = readDataFile(file, oneshot.MaxSecretDataSize, "secret"); err == nil {
				opts = append(opts, oneshot.WithSecretData(name, data))
			}
		}
		if err != nil {
			return nil, flagError("--secret-file", spec, err)
		}
	}
	for _, spec := range f.secretEnvs {
		data, err := f.secretEnvOption(spec)
		if err != nil {
			return nil, flagError("--secret-env", spec, err)
		}
		opts = append(opts, data)
	}
	named := map[string]bool{}
	for i, spec := range f.configFiles {
		target, file, err := parseNameValue(spec, "TARGET=PATH")
		if err == nil {
			var data []byte
			if data, err = readDataFile(file, oneshot.MaxConfigDataSize, "config"); err == nil {
				name := configDataName(target, i)
				if named[name] {
					name = fmt.Sprintf("config-%d", i)
				}
				// config-N may be the name an earlier target made.
				for k := 2; named[name]; k++ {
					name = fmt.Sprintf("config-%d-%d", i, k)
				}
				named[name] = true
				opts = append(opts, oneshot.WithConfigData(name, target, data))
			}
		}
		if err != nil {
			return nil, flagError("--config-file", spec, err)
		}
	}
	return opts, nil
}

// secretEnvOption is --secret-env NAME=VAR: the value of this process's
// variable VAR as the secret NAME.
func (f *runFlags) secretEnvOption(spec string) (oneshot.Option, error) {
	name, variable, err := parseNameValue(spec, "NAME=VAR")
	if err != nil {
		return nil, err
	}
	value, ok := os.LookupEnv(variable)
	if !ok {
		return nil, fmt.Errorf("the variable %s is not set in this process's environment", variable)
	}
	return oneshot.WithSecretData(name, []byte(value)), nil
}

// parseNameValue parses KEY=VALUE, as the data flags take it: cut at the
// first '=', both sides non-empty. want says the form, for the error.
func parseNameValue(spec, want string) (key, value string, err error) {
	key, value, ok := strings.Cut(spec, "=")
	if !ok || key == "" || value == "" {
		return "", "", fmt.Errorf("want %s", want)
	}
	return key, value, nil
}

// readDataFile reads a file of at most limit bytes for a secret or config.
func readDataFile(file string, limit int, kind string) ([]byte, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s is larger than a swarm %s may be (%d bytes)", file, kind, limit)
	}
	return data, nil
}

// configDataName names the config made for --config-file TARGET=PATH
// after the target's file name, as a swarm config's name may be, or
// "config-N" (N: its rank among the flags).
func configDataName(target string, n int) string {
	base := path.Base(target)
	name := strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			return r
		}
		return '-'
	}, base)
	name = strings.Trim(name, "-_.")
	if len(name) > 40 {
		name = strings.Trim(name[:40], "-_.")
	}
	if name == "" {
		return fmt.Sprintf("config-%d", n)
	}
	return name
}
