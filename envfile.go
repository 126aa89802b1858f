package oneshot

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// readEnvFile parses an env file in docker's format (what `docker run
// --env-file` reads): one variable a line as KEY=VALUE, the value taken
// literally (no quotes removed, no expansion); '#' starts a comment line;
// blank lines are skipped; a line with a KEY alone takes the value lookup
// gives it, and is skipped when lookup finds nothing.
func readEnvFile(path string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &SpecError{Field: "Env", Problem: fmt.Sprintf("read env file: %v", err), Fix: "check the path given to WithEnvFile", Err: err}
	}
	defer f.Close()
	return parseEnvFile(path, bufio.NewScanner(f), lookup)
}

func parseEnvFile(name string, lines *bufio.Scanner, lookup func(string) (string, bool)) ([]string, error) {
	var env []string
	for n := 1; lines.Scan(); n++ {
		line := lines.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if !utf8.ValidString(line) {
			return nil, envFileError(name, n, "is not valid UTF-8")
		}
		trimmed := strings.TrimLeftFunc(line, unicode.IsSpace)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		key, value, hasValue := strings.Cut(trimmed, "=")
		switch {
		case key == "":
			return nil, envFileError(name, n, fmt.Sprintf("%q has no variable name", line))
		case strings.ContainsAny(key, " \t"):
			return nil, envFileError(name, n, fmt.Sprintf("variable name %q has white space", key))
		case hasValue:
			env = append(env, key+"="+value)
		default:
			if v, ok := lookup(key); ok {
				env = append(env, key+"="+v)
			}
		}
	}
	if err := lines.Err(); err != nil {
		return nil, &SpecError{Field: "Env", Problem: fmt.Sprintf("read env file %s: %v", name, err), Err: err}
	}
	return env, nil
}

func envFileError(name string, line int, problem string) error {
	return &SpecError{
		Field:   "Env",
		Problem: fmt.Sprintf("env file %s, line %d: %s", name, line, problem),
		Fix:     "write KEY=VALUE, or KEY alone to pass this process's value",
	}
}
