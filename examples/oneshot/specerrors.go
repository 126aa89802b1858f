package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

// flagOfField names the flag (or argument) of `oneshot run` that sets each
// JobSpec field, so that a spec error speaks of what the user typed.
var flagOfField = map[string]string{
	"Image": "IMAGE", "Name": "--name", "Labels": "--label", "Env": "-e/--env-file",
	"Mounts": "--mount/-v/--tmpfs", "Secrets": "--secret", "Configs": "--config",
	"Networks": "--network", "Constraints": "--constraint", "Resources": "--cpus/--memory",
	"User": "--user", "Workdir": "--workdir", "Entrypoint": "--entrypoint",
	"Timeout": "--timeout", "ScheduleTimeout": "--schedule-timeout", "StopGracePeriod": "--stop-timeout",
	"Retries": "--retries", "RetryDelay": "--retry-delay", "RegistryAuth": "--with-registry-auth",
	"LogDriver": "--log-driver/--log-opt", "Tasks": "--tasks", "Parallelism": "--parallelism", "Global": "--global",
	"SecretData": "--secret-file/--secret-env", "ConfigData": "--config-file", "IdempotencyKey": "--idempotency-key",
}

// optionFlags turns the names of the package's options and functions, in
// the library's advice, into the flags and commands that do the same.
var optionFlags = strings.NewReplacer(
	"WithRegistryAuthFromDockerConfig", "--with-registry-auth", "WithRegistryAuth", "--with-registry-auth",
	"WithScheduleTimeout", "--schedule-timeout", "WithTimeout", "--timeout", "WithEnvFile", "--env-file",
	"WithLogDriver", "--log-driver and --log-opt", "oneshot.Prune", "'oneshot prune'",
	"WithFailFast", "--fail-fast",
)

// goAPIFix matches a fix that only makes sense to a Go caller (it names an
// option, a function or a type of the package): the command leaves such
// fixes out.
var goAPIFix = regexp.MustCompile(`\bWith[A-Z]\w*|JobSpec|\bMount(Volume|Bind|Tmpfs)\b|\bFrom(Service|Compose)\b`)

// fieldPattern splits a SpecError's field, "Secrets[2].Name", into its root
// and index.
var fieldPattern = regexp.MustCompile(`^(\w+)(?:\[([^\]]*)\])?`)

// explainError is err's message for the terminal: each *SpecError in it
// names the flag and the value the user gave instead of the Go field (or the
// source, for a setting the job took from a service); each *SourceError
// keeps its words but Go advice; any other error keeps its own words, with
// flags for the options it names. One error a line.
func (f *runFlags) explainError(err error) string {
	var lines []string
	for _, e := range jobexit.Parts(err) {
		var specErr *oneshot.SpecError
		var sourceErr *oneshot.SourceError
		switch {
		case errors.As(e, &specErr):
			lines = append(lines, f.explainSpecError(specErr))
		case errors.As(e, &sourceErr):
			lines = append(lines, explainSourceError(sourceErr))
		default:
			lines = append(lines, optionFlags.Replace(e.Error()))
		}
	}
	return strings.Join(lines, "\n")
}

// explainSpecError says which flag (and which of its values) is at fault,
// or which setting of the source, what is wrong and, unless it is Go
// advice, the fix.
func (f *runFlags) explainSpecError(e *oneshot.SpecError) string {
	msg := "oneshot: " + f.whereIs(e.Field) + ": " + e.Problem
	if fix := commandFix(e.Fix); fix != "" {
		msg += "; " + fix
	}
	return msg
}

// explainSourceError is a *SourceError's message with its fix in the words
// of the command, or without it when it is Go advice.
func explainSourceError(e *oneshot.SourceError) string {
	words := *e
	words.Fix = commandFix(e.Fix)
	return words.Error()
}

// commandFix is the library's fix in the words of the flags; empty when it
// only makes sense to a Go caller.
func commandFix(fix string) string {
	if fix = optionFlags.Replace(fix); goAPIFix.MatchString(fix) {
		return ""
	}
	return fix
}

// whereIs names what the user gave that the spec's field comes from: a
// flag and its value, IMAGE, or a setting of the source; the Go field when
// no flag sets it.
func (f *runFlags) whereIs(field string) string {
	m := fieldPattern.FindStringSubmatch(field)
	if m == nil {
		return "JobSpec." + field
	}
	root, index := m[1], m[2]
	if f.fromSource(root, index) {
		return f.source.String() + ": " + field
	}
	where := flagOfField[root]
	if root == "Image" && !f.source.isZero() {
		where = "--image"
	}
	if where == "" {
		return "JobSpec." + field
	}
	if value, ok := f.valueOf(root, index); ok {
		where += fmt.Sprintf(" %q", value)
	}
	return where
}

// fromSource says the field root[index] holds a setting of the source that
// no flag replaced: the image without --image, the log driver without
// --log-driver or --log-opt, or one of the first entries of a list, which
// are the source's (see jobBase).
func (f *runFlags) fromSource(root, index string) bool {
	if f.source.isZero() {
		return false
	}
	switch root {
	case "Image":
		return f.image == ""
	case "LogDriver":
		return f.logDriver == "" && len(f.logOpts) == 0
	}
	n, ok := f.baseLens()[root]
	i, err := strconv.Atoi(index)
	return ok && err == nil && i < n
}

// baseLens is how many entries each list of the spec has before the flags
// add theirs.
func (f *runFlags) baseLens() map[string]int {
	b := f.base
	return map[string]int{
		"Env": len(b.Env), "Mounts": len(b.Mounts), "Secrets": len(b.Secrets), "Configs": len(b.Configs),
		"Networks": len(b.Networks), "Constraints": len(b.Constraints),
	}
}

// valueOf is the flag value behind the field root[index], when the flags map
// one to one onto that list of the spec (environment files do not), after
// the source's entries.
func (f *runFlags) valueOf(root, index string) (string, bool) {
	lists := map[string][]string{
		"Secrets": f.secrets, "Configs": f.configs, "Networks": f.networks, "Constraints": f.constraints,
		"Mounts": append(append(append([]string(nil), f.mounts...), f.volumes...), f.tmpfs...),
	}
	switch {
	case root == "Image":
		return f.image, true
	case root == "Name":
		return f.name, f.name != ""
	case root == "Labels" && index != "":
		return index, true
	}
	list, ok := lists[root]
	i, err := strconv.Atoi(index)
	i -= f.baseLens()[root]
	if !ok || err != nil || i < 0 || i >= len(list) {
		return "", false
	}
	return list[i], true
}
