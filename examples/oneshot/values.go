package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/oneshot-go/oneshot"
)

// Parsers for the values of docker's flags, as `docker run` and `docker
// service create` read them. Each returns an error that says what it wants.
// Sizes and file modes are in units.go, mounts in mounts.go.

// parseEnv parses -e: KEY=VALUE, or KEY alone to take this process's value
// through lookup. ok is false when KEY alone is not set here: docker then
// leaves the variable out, and so does oneshot.
func parseEnv(kv string, lookup func(string) (string, bool)) (key, value string, ok bool, err error) {
	key, value, hasValue := strings.Cut(kv, "=")
	if key == "" || strings.ContainsAny(key, " \t") {
		return "", "", false, fmt.Errorf("%q: want KEY=VALUE, or KEY to pass this process's value", kv)
	}
	if !hasValue {
		value, ok = lookup(key)
		return key, value, ok, nil
	}
	return key, value, true, nil
}

// parseLabel parses --label: KEY=VALUE, or KEY alone for an empty value.
func parseLabel(kv string) (key, value string, err error) {
	key, value, _ = strings.Cut(kv, "=")
	if strings.TrimSpace(key) == "" {
		return "", "", fmt.Errorf("%q: want KEY=VALUE", kv)
	}
	return key, value, nil
}

// csvFields splits a docker long-form value (key=value fields separated by
// commas, a field in double quotes when it holds a comma) into its fields,
// each cut at its first '='.
func csvFields(spec string) ([][2]string, error) {
	r := csv.NewReader(strings.NewReader(spec))
	fields, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%q is not a comma-separated list of key=value: %v", spec, err)
	}
	out := make([][2]string, 0, len(fields))
	for _, f := range fields {
		key, value, _ := strings.Cut(f, "=")
		out = append(out, [2]string{strings.ToLower(strings.TrimSpace(key)), value})
	}
	return out, nil
}

// parseNetwork parses --network: NAME, or docker's long form
// name=NAME,alias=ALIAS (alias repeatable).
func parseNetwork(spec string) (name string, aliases []string, err error) {
	if !strings.Contains(spec, "=") {
		return spec, nil, nil
	}
	fields, err := csvFields(spec)
	if err != nil {
		return "", nil, err
	}
	for _, kv := range fields {
		switch kv[0] {
		case "name":
			name = kv[1]
		case "alias":
			aliases = append(aliases, kv[1])
		default:
			return "", nil, fmt.Errorf("unknown field %q (want name, alias)", kv[0])
		}
	}
	if name == "" {
		return "", nil, errors.New("no name: add name=NETWORK")
	}
	return name, aliases, nil
}

// fileRef is what secrets and configs share on the command line.
type fileRef struct {
	Name, Target, UID, GID string
	Mode                   os.FileMode
}

// parseFileRef parses --secret and --config: NAME, or the long form
// source|src=NAME,target=PATH,uid=UID,gid=GID,mode=OCTAL.
func parseFileRef(spec string) (fileRef, error) {
	if !strings.Contains(spec, "=") {
		return fileRef{Name: spec}, nil
	}
	var ref fileRef
	fields, err := csvFields(spec)
	if err != nil {
		return ref, err
	}
	for _, kv := range fields {
		switch key, value := kv[0], kv[1]; key {
		case "source", "src":
			ref.Name = value
		case "target":
			ref.Target = value
		case "uid":
			ref.UID = value
		case "gid":
			ref.GID = value
		case "mode":
			if ref.Mode, err = parseFileMode(value); err != nil {
				return ref, err
			}
		default:
			return ref, fmt.Errorf("unknown field %q (want source, target, uid, gid, mode)", key)
		}
	}
	if ref.Name == "" {
		return ref, errors.New("no source: add source=NAME")
	}
	return ref, nil
}

// secretRef is ref as a secret.
func (ref fileRef) secretRef() oneshot.SecretRef {
	return oneshot.SecretRef{Name: ref.Name, Target: ref.Target, UID: ref.UID, GID: ref.GID, Mode: ref.Mode}
}

// configRef is ref as a config.
func (ref fileRef) configRef() oneshot.ConfigRef {
	return oneshot.ConfigRef{Name: ref.Name, Target: ref.Target, UID: ref.UID, GID: ref.GID, Mode: ref.Mode}
}
