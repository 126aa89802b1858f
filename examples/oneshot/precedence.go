package main

import (
	"path"

	"github.com/oneshot-go/oneshot"
)

// How the flags apply over a source's settings: the source's JobSpec is the
// spec given to Run, and the flags' options (jobspec.go) apply after its
// fields. Options set or add; what they cannot do, jobBase does first:
// IMAGE or --image and COMMAND replace the source's, and a mount, secret or
// config at a path that a flag mounts again, or a network that a flag
// attaches again, leaves the source's list, so that the flag's takes its
// place instead of clashing with it. For a plain `oneshot run IMAGE`, the
// source's spec is empty: the base is IMAGE and COMMAND.

// jobBase returns the spec that the flags' options apply to, made from
// the source's settings, and keeps it for explainError.
func (f *runFlags) jobBase(source oneshot.JobSpec) oneshot.JobSpec {
	spec := source
	if f.image != "" {
		spec.Image = f.image
	}
	// As docker run: COMMAND replaces the default command, and so does
	// --entrypoint, which drops it when no COMMAND is given.
	if len(f.command) > 0 || f.gave("entrypoint") {
		spec.Command = f.command
	}
	mounts, _ := f.flagMounts()   // errors were reported by options
	secrets, _ := f.flagSecrets() // ditto
	configs, _ := f.flagConfigs()
	networks, _ := f.flagNetworks()
	spec.Mounts = without(spec.Mounts, keysOf(mounts, mountPath), mountPath)
	spec.Secrets = without(spec.Secrets, keysOf(secrets, secretPath), secretPath)
	spec.Configs = without(spec.Configs, keysOf(configs, configPath), configPath)
	spec.Networks = without(spec.Networks, keysOf(networks, networkName), networkName)
	f.base = spec
	return spec
}

// without returns the items of list whose key is not in drop, in a new
// slice (list may be the source's).
func without[T any](list []T, drop map[string]bool, key func(T) string) []T {
	var kept []T
	for _, item := range list {
		if !drop[key(item)] {
			kept = append(kept, item)
		}
	}
	return kept
}

// keysOf returns the set of the items' keys.
func keysOf[T any](items []T, key func(T) string) map[string]bool {
	keys := make(map[string]bool, len(items))
	for _, item := range items {
		keys[key(item)] = true
	}
	return keys
}

// mountPath is where m is mounted in the container.
func mountPath(m oneshot.Mount) string { return path.Clean(m.Target) }

// secretPath is where the secret's file is in the container: its target,
// under /run/secrets when relative, or /run/secrets/NAME.
func secretPath(ref oneshot.SecretRef) string {
	target := ref.Target
	if target == "" {
		target = ref.Name
	}
	if !path.IsAbs(target) {
		return path.Join("/run/secrets", target)
	}
	return path.Clean(target)
}

// configPath is where the config's file is in the container: its target,
// or /NAME.
func configPath(ref oneshot.ConfigRef) string {
	if ref.Target == "" {
		return "/" + ref.Name
	}
	return path.Clean(ref.Target)
}

// networkName is the network n attaches to.
func networkName(n oneshot.NetworkAttachment) string { return n.Name }
