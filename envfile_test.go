package oneshot

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseEnvFile(t *testing.T) {
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"HOME": "/root", "EMPTY": "", "SPACED": " a b "}[k]
		return v, ok
	}
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"empty file", "", nil},
		{"only comments and blank lines", "# one\n\n   \n\t\n  # two\n\t# three\n", nil},
		{"KEY=VALUE", "A=1\nB=2\n", []string{"A=1", "B=2"}},
		{"no newline at the end", "A=1\nB=2", []string{"A=1", "B=2"}},
		{"CRLF line ends", "A=1\r\nB=2\r\n", []string{"A=1", "B=2"}},
		{"leading white space is removed", "  A=1\n\tB=2\n \t C=3\n", []string{"A=1", "B=2", "C=3"}},
		{"a # after the start is part of the value", "A=1 # not a comment\nB=#x\n", []string{"A=1 # not a comment", "B=#x"}},
		{"quotes are kept", "C=\"quoted\"\nS='single'\nM=\"a b\" 'c'\n", []string{`C="quoted"`, `S='single'`, `M="a b" 'c'`}},
		{"= inside the value", "D=x=y\nURL=postgres://u:p@h/db?sslmode=disable\n", []string{"D=x=y", "URL=postgres://u:p@h/db?sslmode=disable"}},
		{"trailing white space is kept", "B=spaced value  \nT=x\t\n", []string{"B=spaced value  ", "T=x\t"}},
		{"empty value", "E=\n", []string{"E="}},
		{"no expansion", "P=$HOME\nQ=${HOME}\nR=a\\nb\n", []string{"P=$HOME", "Q=${HOME}", `R=a\nb`}},
		{"unicode values", "GREETING=héllo wörld ✓\n", []string{"GREETING=héllo wörld ✓"}},
		{"KEY alone takes the lookup's value", "HOME\n", []string{"HOME=/root"}},
		{"KEY alone set to empty", "EMPTY\n", []string{"EMPTY="}},
		{"KEY alone keeps the value as is", "SPACED\n", []string{"SPACED= a b "}},
		{"KEY alone unset is skipped", "A=1\nUNSET\nB=2\n", []string{"A=1", "B=2"}},
		{"indented KEY alone", "  HOME\n", []string{"HOME=/root"}},
		{"later lines do not override earlier ones", "A=1\nA=2\n", []string{"A=1", "A=2"}},
		{"BOM at the start", "\ufeffA=1\nB=2", []string{"A=1", "B=2"}},
		{"BOM before a comment", "\ufeff# comment\nA=1\n", []string{"A=1"}},
		{"BOM only stripped from the first line", "A=1\n\ufeffB=2\n", []string{"A=1", "\ufeffB=2"}},
		{"key with dots and dashes", "my.key-1=x\n", []string{"my.key-1=x"}},
		// docker removes leading white space with unicode.IsSpace: vertical
		// tab, form feed, NO-BREAK SPACE (U+00A0) too.
		{"unicode leading white space is removed, as docker does", "\vA=1\n\fB=2\n\u00a0C=3\n", []string{"A=1", "B=2", "C=3"}},
		{"a line of unicode white space is blank, as docker has it", "\u00a0\u2003\nA=1\n", []string{"A=1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEnvFile("test.env", bufio.NewScanner(strings.NewReader(tc.in)), lookup)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseEnvFileErrors(t *testing.T) {
	lookup := func(string) (string, bool) { return "", false }
	cases := []struct {
		name  string
		in    string
		wants []string
	}{
		{"empty key", "A=1\n=2\n", []string{"line 2", `"=2" has no variable name`}},
		{"indented empty key", "  =2\n", []string{"line 1", "no variable name"}},
		{"space in the key", "MY VAR=1\n", []string{"line 1", `"MY VAR" has white space`}},
		{"space before =", "A=1\n\nB = x\n", []string{"line 3", `"B " has white space`}},
		{"tab in the key", "A\tB=1\n", []string{"line 1", "white space"}},
		{"KEY alone with a trailing space", "HOME \n", []string{"line 1", `"HOME " has white space`}},
		{"two words alone", "export A\n", []string{"line 1", "white space"}},
		{"invalid UTF-8 in a value", "A=1\nB=\xff\xfe\n", []string{"line 2", "UTF-8"}},
		{"invalid UTF-8 in a comment", "# \xc3\x28\n", []string{"line 1", "UTF-8"}},
		{"a line longer than 64 KiB", "A=" + strings.Repeat("x", 70<<10) + "\n", []string{"too long"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEnvFile("test.env", bufio.NewScanner(strings.NewReader(tc.in)), lookup)
			assert.Nil(t, got)
			var specErr *SpecError
			require.ErrorAs(t, err, &specErr)
			assert.Equal(t, "Env", specErr.Field)
			assert.Contains(t, specErr.Problem, "test.env")
			for _, want := range tc.wants {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestReadEnvFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "job.env")
	require.NoError(t, os.WriteFile(path, []byte("\ufeff# job settings\r\nMODE=full\r\nTOKEN\r\n"), 0o600))
	asked := []string{}
	lookup := func(k string) (string, bool) { asked = append(asked, k); return "t0k3n", true }
	got, err := readEnvFile(path, lookup)
	require.NoError(t, err)
	assert.Equal(t, []string{"MODE=full", "TOKEN=t0k3n"}, got)
	assert.Equal(t, []string{"TOKEN"}, asked, "only a KEY alone is looked up")

	missing := filepath.Join(dir, "missing.env")
	_, err = readEnvFile(missing, lookup)
	var specErr *SpecError
	require.ErrorAs(t, err, &specErr)
	assert.Equal(t, "Env", specErr.Field)
	assert.Contains(t, err.Error(), missing)
}
