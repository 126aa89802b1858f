package oneshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// fuzzLookup is the environment of the env-file fuzz tests: a KEY alone
// whose length is even is set (to a value that names it), one whose length
// is odd is not.
func fuzzLookup(key string) (string, bool) {
	if len(key)%2 == 1 {
		return "", false
	}
	return "from-lookup:" + key, true
}

// parseEnvFileForFuzz parses content as the env file "fuzz.env".
func parseEnvFileForFuzz(content []byte) ([]string, error) {
	return parseEnvFile("fuzz.env", bufio.NewScanner(bytes.NewReader(content)), fuzzLookup)
}

// FuzzParseEnvFile feeds the env-file parser any content. It never panics;
// an error is a *SpecError of the field Env that names the file and the
// line (or says the line is too long); the variables it returns are
// KEY=VALUE with a KEY that is non-empty and free of '=', space and tab,
// each one from the file (a KEY=VALUE line as written, or a KEY alone with
// lookup's value), in the file's order; and written back as an env file
// they parse to the same variables.
func FuzzParseEnvFile(f *testing.F) {
	for _, seed := range []string{
		"", "A=1\nB=2\n", "# comment\n\n  \t\nA=1", "A=1\r\nB=2\r\n", "\ufeffA=1\n\ufeffB=2\n",
		"KEY\nKE\n", "A=x=y\nB=\n", "=x\n", "MY VAR=1\n", "A\tB=1\n", "A=\xff\n", "  A=1 # not a comment\n",
		"\u00a0A=1\n", "A=x\r\r\n", "A=\"quoted\" 'too'\n", "A=1\n" + strings.Repeat("x", 70<<10) + "\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		env, err := parseEnvFileForFuzz(content)
		if err != nil {
			checkEnvFileError(t, content, err)
			return
		}
		rest := string(content)
		for _, kv := range env {
			key, value, ok := strings.Cut(kv, "=")
			if !ok || key == "" || strings.ContainsAny(key, " \t") {
				t.Fatalf("%q gave %q: not KEY=VALUE", content, kv)
			}
			if strings.ContainsAny(kv, "\n") {
				t.Fatalf("%q gave %q: a line break in a variable", content, kv)
			}
			// Each variable is from the file, after the previous one: as
			// written, or as a KEY alone that lookup sets.
			from := kv
			if want, set := fuzzLookup(key); set && value == want && !strings.Contains(rest, kv) {
				from = key
			}
			i := strings.Index(rest, from)
			if i < 0 {
				t.Fatalf("%q gave %q, which is not in the file after the previous variable", content, kv)
			}
			rest = rest[i+len(from):]
		}
		// Written back, one KEY=VALUE a line (CRLF: a value may end with
		// '\r'; after a comment: the first may start with a BOM).
		var again bytes.Buffer
		again.WriteString("# written back\r\n")
		for _, kv := range env {
			if len(kv)+2 > bufio.MaxScanTokenSize { // a KEY alone, longer with its value
				return
			}
			again.WriteString(kv + "\r\n")
		}
		env2, err := parseEnvFileForFuzz(again.Bytes())
		if err != nil {
			t.Fatalf("%q gave %q, which written back does not parse: %v", content, env, err)
		}
		if fmt.Sprint(env) != fmt.Sprint(env2) || len(env) != len(env2) {
			t.Fatalf("%q gave %q, which written back gives %q", content, env, env2)
		}
	})
}

// checkEnvFileError checks that the parser's error for content is a
// *SpecError of the field Env that says the file and the line at fault.
func checkEnvFileError(t *testing.T, content []byte, err error) {
	t.Helper()
	var specErr *SpecError
	if !errors.As(err, &specErr) {
		t.Fatalf("%q: not a *SpecError: %v", content, err)
	}
	if specErr.Field != "Env" || !strings.Contains(specErr.Problem, "fuzz.env") {
		t.Fatalf("%q: the error does not name the field Env and the file: %v", content, err)
	}
	if errors.Is(err, bufio.ErrTooLong) {
		return
	}
	lines := bytes.Count(content, []byte("\n")) + 1
	for n := 1; n <= lines; n++ {
		if strings.Contains(specErr.Problem, fmt.Sprintf("line %d:", n)) {
			return
		}
	}
	t.Fatalf("%q: the error names no line of the file: %v", content, err)
}

// FuzzEnvFileLine checks the env file's one-line round trip: the line
// KEY=VALUE gives exactly the variable KEY with the value VALUE, taken
// literally (quotes, '#', '$', white space and '=' kept), whatever VALUE
// holds but a line break; a KEY that is empty or holds a space or a tab
// is an error of the field Env at line 1.
func FuzzEnvFileLine(f *testing.F) {
	for _, seed := range [][2]string{
		{"A", "1"}, {"URL", "postgres://u:p@h/db?sslmode=disable"}, {"E", ""}, {"Q", `"quoted" 'x'`},
		{"P", "$HOME ${X}"}, {"H", "#not a comment"}, {"S", "  spaced  "}, {"my.key-1", "x=y"},
		{"", "x"}, {"MY VAR", "1"}, {"A\tB", "1"}, {"Ü", "ünïcode ✓"}, {"A\fB", "1"}, {"A", "x\r"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		line := key + "=" + value
		switch {
		case strings.ContainsAny(line, "\n") || strings.HasSuffix(line, "\r"), // not one line
			!utf8.ValidString(line),    // refused as a whole
			strings.Contains(key, "="), // another key
			strings.TrimLeftFunc(key, unicode.IsSpace) != key || strings.HasPrefix(key, "#"), // white space or a comment first
			strings.HasPrefix(key, "\ufeff"),                                                 // a BOM
			len(line) >= bufio.MaxScanTokenSize:                                              // too long for a line
			t.Skip()
		}
		env, err := parseEnvFileForFuzz([]byte(line + "\n"))
		if key == "" || strings.ContainsAny(key, " \t") {
			var specErr *SpecError
			if !errors.As(err, &specErr) || specErr.Field != "Env" || !strings.Contains(specErr.Problem, "line 1:") {
				t.Fatalf("%q: want an error of the field Env at line 1, got %v (%q)", line, err, env)
			}
			return
		}
		if err != nil || len(env) != 1 || env[0] != line {
			t.Fatalf("%q: got %q, %v", line, env, err)
		}
		gotKey, gotValue, _ := strings.Cut(env[0], "=")
		if gotKey != key || gotValue != value {
			t.Fatalf("%q: got the key %q and the value %q", line, gotKey, gotValue)
		}
	})
}
