package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

func TestParseEngineFlags(t *testing.T) {
	cases := []struct {
		args    []string
		flags   engineFlags
		rest    []string
		problem string
	}{
		{args: []string{"run", "app:v1"}, rest: []string{"run", "app:v1"}},
		{args: []string{"-H", "ssh://me@host", "run", "app:v1"}, flags: engineFlags{host: "ssh://me@host"}, rest: []string{"run", "app:v1"}},
		{args: []string{"--host=tcp://10.0.0.7:2376", "prune"}, flags: engineFlags{host: "tcp://10.0.0.7:2376"}, rest: []string{"prune"}},
		{args: []string{"--context", "prod", "stack", "run"}, flags: engineFlags{context: "prod"}, rest: []string{"stack", "run"}},
		{args: []string{"-c=prod", "run", "-H", "x"}, flags: engineFlags{context: "prod"}, rest: []string{"run", "-H", "x"}}, // after the command: the command's
		{args: []string{"-H", "ssh://me@host"}, flags: engineFlags{host: "ssh://me@host"}, rest: []string{}},
		{args: []string{"-H"}, problem: "--host needs a value"},
		{args: []string{"--context=", "run"}, problem: "--context needs a value"},
		{args: []string{"-H", "a", "--host", "b", "run"}, problem: "--host is given twice"},
		{args: []string{"-H", "tcp://a:2375", "--context", "prod", "run"}, problem: "conflicting options: give --host or --context, not both"},
	}
	for _, tc := range cases {
		flags, rest, err := parseEngineFlags(tc.args)
		if tc.problem != "" {
			require.Error(t, err, tc.args)
			assert.Contains(t, err.Error(), tc.problem, tc.args)
			continue
		}
		require.NoError(t, err, tc.args)
		assert.Equal(t, tc.flags, flags, tc.args)
		assert.Equal(t, tc.rest, rest, tc.args)
	}
}

func TestEngineFlagsRefusals(t *testing.T) {
	defer func() { globalFlags = engineFlags{} }()
	for args, want := range map[string]string{
		"-H":                          "oneshot: --host needs a value\n",
		"-H tcp://a:1 -c prod run x":  "oneshot: conflicting options: give --host or --context, not both\n",
		"--context prod --context qa": "oneshot: --context is given twice: give one\n",
	} {
		code, stdout, stderr := runForTest(strings.Fields(args)...)
		assert.Equal(t, 125, code, args)
		assert.Empty(t, stdout, args)
		assert.Equal(t, want, stderr, args)
	}
	code, stdout, _ := runForTest("-H", "ssh://me@host", "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "-H, --host HOST")
}

func TestEngineFlagsMakeTheRunner(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	cases := []struct {
		flags   engineFlags
		problem string
	}{
		{flags: engineFlags{}},
		{flags: engineFlags{host: "tcp://10.0.0.7:2375"}},
		{flags: engineFlags{host: "tcp://10.0.0.7:99999"}, problem: `WithHost("tcp://10.0.0.7:99999"): malformed host`},
		{flags: engineFlags{context: "prod"}, problem: `context "prod" (from WithContext("prod")): no such context`},
	}
	for _, tc := range cases {
		r, err := oneshot.NewRunner(tc.flags.options()...)
		if tc.problem != "" {
			require.Error(t, err, tc.flags)
			assert.Contains(t, err.Error(), tc.problem, tc.flags)
			continue
		}
		require.NoError(t, err, tc.flags)
		require.NoError(t, r.Close())
	}
}
