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
	"LogDriver": "--log-driver/--log-opt",
}

// optionFlags turns the names of the package's options and functions, in
// the library's advice, into the flags and commands that do the same.
var optionFlags = strings.NewReplacer(
	"WithRegistryAuthFromDockerConfig", "--with-registry-auth", "WithRegistryAuth", "--with-registry-auth",
	"WithScheduleTimeout", "--schedule-timeout", "WithTimeout", "--timeout", "WithEnvFile", "--env-file",
	"WithLogDriver", "--log-driver and --log-opt", "oneshot.Prune", "'oneshot prune'",
)

// goAPIFix matches a fix that only makes sense to a Go caller (it names an
// option or a type of the package): the command leaves such fixes out.
var goAPIFix = regexp.MustCompile(`\bWith[A-Z]\w*|JobSpec|\bMount(Volume|Bind|Tmpfs)\b`)

// fieldPattern splits a SpecError's field, "Secrets[2].Name", into its root
// and index.
var fieldPattern = regexp.MustCompile(`^(\w+)(?:\[([^\]]*)\])?`)

// explainError is err's message for the terminal: each *SpecError in it
// names the flag and the value the user gave instead of the Go field; any
// other error keeps its own words, with flags for the options it names. One
// error a line.
func (f *runFlags) explainError(err error) string {
	var lines []string
	for _, e := range jobexit.Parts(err) {
		var specErr *oneshot.SpecError
		if errors.As(e, &specErr) {
			lines = append(lines, f.explainSpecError(specErr))
		} else {
			lines = append(lines, optionFlags.Replace(e.Error()))
		}
	}
	return strings.Join(lines, "\n")
}

// explainSpecError says which flag (and which of its values) is at fault,
// what is wrong and, unless it is Go advice, the fix.
func (f *runFlags) explainSpecError(e *oneshot.SpecError) string {
	where := "JobSpec." + e.Field
	if m := fieldPattern.FindStringSubmatch(e.Field); m != nil && flagOfField[m[1]] != "" {
		where = flagOfField[m[1]]
		if value, ok := f.valueOf(m[1], m[2]); ok {
			where += fmt.Sprintf(" %q", value)
		}
	}
	msg := "oneshot: " + where + ": " + e.Problem
	if fix := optionFlags.Replace(e.Fix); fix != "" && !goAPIFix.MatchString(fix) {
		msg += "; " + fix
	}
	return msg
}

// valueOf is the flag value behind the field root[index], when the flags map
// one to one onto that list of the spec (environment files do not).
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
	if !ok || err != nil || i < 0 || i >= len(list) {
		return "", false
	}
	return list[i], true
}
