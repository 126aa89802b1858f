package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/oneshot-go/oneshot"
)

// mountKeysUnsupported are --mount keys that docker knows and oneshot's
// Mount cannot express: refused by name rather than as unknown.
var mountKeysUnsupported = map[string]bool{
	"consistency": true, "bind-propagation": true, "bind-nonrecursive": true, "bind-recursive": true,
	"volume-nocopy": true, "volume-label": true, "volume-driver": true, "volume-opt": true,
	"volume-subpath": true, "tmpfs-mode": true,
}

// parseMount parses --mount in docker's form: type=volume|bind|tmpfs
// (volume when left out), source|src, target|dst|destination,
// readonly|ro[=BOOL], tmpfs-size=SIZE.
func parseMount(spec string) (oneshot.Mount, error) {
	m := oneshot.Mount{Type: oneshot.MountVolume}
	fields, err := csvFields(spec)
	if err != nil {
		return m, err
	}
	for _, kv := range fields {
		if err := setMountField(&m, kv[0], kv[1]); err != nil {
			return m, err
		}
	}
	if m.Target == "" {
		return m, errors.New("no target: add target=/path/in/container")
	}
	return m, nil
}

// setMountField applies one key=value field of --mount to m.
func setMountField(m *oneshot.Mount, key, value string) error {
	var err error
	switch key {
	case "type":
		m.Type = oneshot.MountType(value)
	case "source", "src":
		m.Source = value
	case "target", "dst", "destination":
		m.Target = value
	case "readonly", "ro":
		m.ReadOnly = true
		if value != "" {
			m.ReadOnly, err = strconv.ParseBool(value)
		}
	case "tmpfs-size":
		m.TmpfsSize, err = parseBytes(value)
	default:
		if mountKeysUnsupported[key] {
			return fmt.Errorf("%s: not supported by oneshot", key)
		}
		return fmt.Errorf("unknown field %q (want type, source, target, readonly, tmpfs-size)", key)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// parseVolume parses -v: NAME:/path (a named volume), /host/path:/path (a
// bind mount of the node's path), or /path alone (an anonymous volume);
// :ro or :rw after it.
func parseVolume(spec string) (oneshot.Mount, error) {
	parts := strings.Split(spec, ":")
	if len(parts) == 1 {
		return oneshot.Mount{Type: oneshot.MountVolume, Target: spec}, nil
	}
	if len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return oneshot.Mount{}, errors.New("want SOURCE:TARGET[:ro]")
	}
	m := oneshot.Mount{Type: oneshot.MountVolume, Source: parts[0], Target: parts[1]}
	switch {
	case strings.HasPrefix(m.Source, "/"):
		m.Type = oneshot.MountBind
	case strings.HasPrefix(m.Source, "."):
		return m, errors.New("a bind mount's source is a path on the node: give it in full, from /")
	}
	if len(parts) == 3 {
		mode, err := parseMountMode(parts[2])
		if err != nil {
			return m, err
		}
		m.ReadOnly = mode
	}
	return m, nil
}

// parseMountMode parses the :ro or :rw of -v and --tmpfs.
func parseMountMode(mode string) (readOnly bool, err error) {
	switch mode {
	case "ro":
		return true, nil
	case "rw":
		return false, nil
	}
	return false, fmt.Errorf("unknown mode %q (want ro or rw)", mode)
}

// parseTmpfs parses --tmpfs: /path, optionally followed by a colon and
// comma-separated options: size=SIZE, ro, rw.
func parseTmpfs(spec string) (oneshot.Mount, error) {
	target, options, _ := strings.Cut(spec, ":")
	m := oneshot.Mount{Type: oneshot.MountTmpfs, Target: target}
	if options == "" {
		return m, nil
	}
	for _, opt := range strings.Split(options, ",") {
		key, value, hasValue := strings.Cut(opt, "=")
		var err error
		switch key {
		case "size":
			m.TmpfsSize, err = parseBytes(value)
		case "ro", "rw":
			// ro=false must not make it read-only: the modes take no value.
			if hasValue {
				err = fmt.Errorf("option %q: %s takes no value", opt, key)
			} else {
				m.ReadOnly, err = parseMountMode(key)
			}
		default:
			err = fmt.Errorf("unknown option %q (want size=SIZE, ro, rw)", key)
		}
		if err != nil {
			return m, err
		}
	}
	return m, nil
}
