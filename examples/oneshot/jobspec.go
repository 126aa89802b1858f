package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/oneshot-go/oneshot"
)

// options turns the flags into oneshot options, in the order docker reads
// them; a value that cannot be parsed is an error naming the flag. What the
// values mean together (an absolute target, a known secret...) the library
// checks before it creates anything.
func (f *runFlags) options() ([]oneshot.Option, error) {
	var opts []oneshot.Option
	for _, part := range []func() ([]oneshot.Option, error){
		f.envOptions, f.mountOptions, f.fileOptions, f.placementOptions, f.resourceOptions, f.jobOptions,
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

// envOptions are --env-file and -e, in that order: -e wins, as in docker.
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
	return opts, nil
}

// mountOptions are --mount, -v and --tmpfs.
func (f *runFlags) mountOptions() ([]oneshot.Option, error) {
	var opts []oneshot.Option
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
			opts = append(opts, oneshot.WithMount(m))
		}
	}
	return opts, nil
}

// fileOptions are --secret and --config.
func (f *runFlags) fileOptions() ([]oneshot.Option, error) {
	var opts []oneshot.Option
	for _, spec := range f.secrets {
		ref, err := parseFileRef(spec)
		if err != nil {
			return nil, flagError("--secret", spec, err)
		}
		opts = append(opts, oneshot.WithSecretRef(ref.secretRef()))
	}
	for _, spec := range f.configs {
		ref, err := parseFileRef(spec)
		if err != nil {
			return nil, flagError("--config", spec, err)
		}
		opts = append(opts, oneshot.WithConfigRef(ref.configRef()))
	}
	return opts, nil
}

// placementOptions are --network and --constraint.
func (f *runFlags) placementOptions() ([]oneshot.Option, error) {
	var opts []oneshot.Option
	for _, spec := range f.networks {
		name, aliases, err := parseNetwork(spec)
		if err != nil {
			return nil, flagError("--network", spec, err)
		}
		opts = append(opts, oneshot.WithNetwork(name, aliases...))
	}
	for _, c := range f.constraints {
		opts = append(opts, oneshot.WithConstraint(c))
	}
	return opts, nil
}

// resourceOptions are the limits, reservations and registry credentials.
func (f *runFlags) resourceOptions() ([]oneshot.Option, error) {
	r := oneshot.Resources{CPULimit: f.cpus, CPUReservation: f.reserveCPUs}
	var err error
	if r.MemoryLimit, err = parseBytes(f.memory); err != nil {
		return nil, flagError("--memory", f.memory, err)
	}
	if r.MemoryReservation, err = parseBytes(f.reserveMemory); err != nil {
		return nil, flagError("--reserve-memory", f.reserveMemory, err)
	}
	opts := []oneshot.Option{oneshot.WithResources(r)}
	if f.registryAuth {
		// The image is set by then: options apply after the spec's fields.
		opts = append(opts, oneshot.WithRegistryAuthFromDockerConfig())
	}
	return opts, nil
}

// jobOptions are the job's identity, labels, time bounds and retries.
func (f *runFlags) jobOptions() ([]oneshot.Option, error) {
	opts := []oneshot.Option{
		oneshot.WithUser(f.user), oneshot.WithWorkdir(f.workdir), oneshot.WithName(f.name),
		oneshot.WithTimeout(f.timeout), oneshot.WithScheduleTimeout(f.scheduleTimeout),
		oneshot.WithStopGracePeriod(f.stopTimeout), oneshot.WithRetries(f.retries, f.retryDelay),
	}
	for _, kv := range f.labels {
		key, value, err := parseLabel(kv)
		if err != nil {
			return nil, flagError("--label", kv, err)
		}
		opts = append(opts, oneshot.WithLabel(key, value))
	}
	if f.entrypoint != "" {
		opts = append(opts, oneshot.WithEntrypoint(f.entrypoint))
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

// logDriverOption is --log-driver with its --log-opt values, if given.
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
	return oneshot.WithLogDriver(f.logDriver, options), nil
}
