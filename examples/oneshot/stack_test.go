package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// fakeReader is a specReader that records what it was asked for and
// answers with spec and err.
type fakeReader struct {
	spec  oneshot.JobSpec
	err   error
	calls []string
}

// reader returns the specReader that the commands are given.
func (r *fakeReader) reader() specReader {
	return specReader{
		fromService: func(_ context.Context, nameOrID string) (oneshot.JobSpec, error) {
			r.calls = append(r.calls, "service "+nameOrID)
			return r.spec, r.err
		},
		fromCompose: func(path, stack, service string) (oneshot.JobSpec, error) {
			r.calls = append(r.calls, fmt.Sprintf("compose %s %s %s", path, stack, service))
			return r.spec, r.err
		},
	}
}

// commandForTest runs the command line with args and r as the source
// reader, off a terminal, and returns its exit code, stdout and stderr.
// Only arguments refused before a job is run may be given: no Docker is
// needed.
func commandForTest(r specReader, args ...string) (int, string, string) {
	var stdout, stderr strings.Builder
	term := terminal{stdout: &stdout, stderr: &stderr}
	ctx := context.Background()
	var code int
	switch {
	case len(args) > 0 && args[0] == "run":
		code = runCommand(ctx, args[1:], term, r)
	case len(args) > 0 && args[0] == "stack":
		code = stackCommand(ctx, args[1:], term, r)
	default:
		panic("commandForTest: run or stack")
	}
	return code, stdout.String(), stderr.String()
}

func TestParseSourcedRuns(t *testing.T) {
	cases := []struct {
		args    []string
		source  specSource
		image   string
		command []string
	}{
		{args: []string{"stack", "run", "app", "web", "migrate", "up"},
			source: specSource{service: "app_web", stack: "app"}, command: []string{"migrate", "up"}},
		{args: []string{"stack", "run", "-e", "A=1", "--image", "app:v3", "app_stack", "web"},
			source: specSource{service: "app_stack_web", stack: "app_stack"}, image: "app:v3", command: []string{}},
		{args: []string{"stack", "run", "app", "web", "--json", "-e", "x"},
			source: specSource{service: "app_web", stack: "app"}, command: []string{"--json", "-e", "x"}},
		{args: []string{"run", "--from-service", "app_web", "migrate", "up"},
			source: specSource{service: "app_web"}, command: []string{"migrate", "up"}},
		{args: []string{"run", "--from-service", "x1y2z3", "--image", "app:v3"},
			source: specSource{service: "x1y2z3"}, image: "app:v3", command: []string{}},
		{args: []string{"run", "--compose", "stack.yml", "--stack", "app", "--service", "web", "-q", "migrate"},
			source: specSource{compose: "stack.yml", stack: "app", composeService: "web"}, command: []string{"migrate"}},
		{args: []string{"run", "-q", "app:v1", "echo", "hi"},
			image: "app:v1", command: []string{"echo", "hi"}},
	}
	for _, tc := range cases {
		var f *runFlags
		var err error
		if tc.args[0] == "stack" {
			f, err = parseStackRunFlags(tc.args[2:])
		} else {
			f, err = parseRunFlags(tc.args[1:])
		}
		if !assert.NoError(t, err, tc.args) {
			continue
		}
		assert.Equal(t, tc.source, f.source, tc.args)
		assert.Equal(t, tc.image, f.image, tc.args)
		assert.Equal(t, tc.command, f.command, tc.args)
	}
}

func TestSourceUsageErrors(t *testing.T) {
	cases := []struct {
		args   []string
		stderr string
	}{
		{args: []string{"stack"}, stderr: "'oneshot stack' needs a command: run"},
		{args: []string{"stack", "deploy", "app"}, stderr: `unknown command "stack deploy"`},
		{args: []string{"stack", "run"}, stderr: "'oneshot stack run' needs a STACK and a SERVICE"},
		{args: []string{"stack", "run", "-q", "app"}, stderr: "'oneshot stack run' needs a STACK and a SERVICE"},
		{args: []string{"stack", "run", "", "web"}, stderr: "needs a STACK and a SERVICE"},
		{args: []string{"stack", "run", "--bogus", "app", "web"}, stderr: "flag provided but not defined: -bogus; see 'oneshot stack run --help'"},
		{args: []string{"stack", "run", "--from-service", "x", "app", "web"}, stderr: "flag provided but not defined: -from-service"},
		{args: []string{"stack", "run", "--memory", "lots", "app", "web"}, stderr: `oneshot: --memory "lots": `},
		{args: []string{"run", "--compose", "stack.yml"}, stderr: "--compose needs --stack STACK and --service NAME"},
		{args: []string{"run", "--compose", "stack.yml", "--stack", "app"}, stderr: "--compose needs --service NAME"},
		{args: []string{"run", "--compose", "", "--stack", "app", "--service", "web"}, stderr: "--compose needs the path of a compose file"},
		{args: []string{"run", "--stack", "app", "--service", "web", "app:v1"}, stderr: "--stack and --service go with --compose FILE"},
		{args: []string{"run", "--service", "web", "app:v1"}, stderr: "--stack and --service go with --compose FILE"},
		{args: []string{"run", "--from-service", "app_web", "--compose", "stack.yml", "--stack", "app", "--service", "web"},
			stderr: "--from-service and --compose cannot go together"},
		{args: []string{"run", "--from-service", "app_web", "--stack", "app"}, stderr: "--stack and --service go with --compose, not --from-service"},
		{args: []string{"run", "--from-service", ""}, stderr: "--from-service needs the name or ID of a service"},
		{args: []string{"run", "--image", "app:v1", "echo"}, stderr: "--image goes with --from-service or --compose"},
		{args: []string{"run", "--from-service", "app_web", "--cpus", "many"}, stderr: "-cpus"},
		{args: []string{"run", "--from-service", "app_web", "-v", "a:/b:rx"}, stderr: `oneshot: -v "a:/b:rx": `},
	}
	for _, tc := range cases {
		fake := &fakeReader{}
		code, stdout, stderr := commandForTest(fake.reader(), tc.args...)
		assert.Equal(t, 125, code, tc.args)
		assert.Empty(t, stdout, tc.args)
		assert.Contains(t, stderr, tc.stderr, tc.args)
		assert.Empty(t, fake.calls, "refused before the source is read: %q", tc.args)
	}
}

func TestStackHelp(t *testing.T) {
	for args, want := range map[string]string{"stack --help": stackUsage, "stack help": stackUsage, "stack run --help": stackRunUsage, "stack run -h": stackRunUsage} {
		code, stdout, stderr := runForTest(strings.Fields(args)...)
		assert.Equal(t, 0, code, args)
		assert.Equal(t, want, stdout, args)
		assert.Empty(t, stderr, args)
	}
	_, stdout, _ := runForTest("help")
	assert.Contains(t, stdout, "oneshot stack run [flags] STACK SERVICE [COMMAND] [ARG...]")
}

func TestSourceErrorsAreRefusals(t *testing.T) {
	notFound := func(name string) error {
		return fmt.Errorf("oneshot: %w: %q (see `docker service ls`)", oneshot.ErrServiceNotFound, name)
	}
	cases := []struct {
		name  string
		args  []string
		err   error
		calls []string
		want  string
	}{
		{name: "stack run, no such service", args: []string{"stack", "run", "app", "web", "migrate"}, err: notFound("app_web"),
			calls: []string{"service app_web"},
			want:  "oneshot: service not found: \"app_web\" (see `docker service ls`); is the stack app deployed? `docker stack services app` lists its services\n"},
		{name: "from-service, no such service", args: []string{"run", "--from-service", "app_web"}, err: notFound("app_web"),
			calls: []string{"service app_web"},
			want:  "oneshot: service not found: \"app_web\" (see `docker service ls`)\n"},
		{name: "compose, Go advice left out", args: []string{"run", "--compose", "stack.yml", "--stack", "app", "--service", "web"},
			err:   &oneshot.SourceError{Source: "stack.yml", Key: "services.web.build", Problem: "a job cannot build its image", Fix: "set services.web.image, or give the image to FromCompose's caller with WithImage"},
			calls: []string{"compose stack.yml app web"},
			want:  "oneshot: stack.yml: services.web.build: a job cannot build its image\n"},
		{name: "compose, fix kept", args: []string{"run", "--compose", "stack.yml", "--stack", "app", "--service", "web"},
			err:   &oneshot.SourceError{Source: "stack.yml", Key: "services.web.volumes[0]", Problem: "a relative bind source", Fix: "give the node's absolute path"},
			calls: []string{"compose stack.yml app web"},
			want:  "oneshot: stack.yml: services.web.volumes[0]: a relative bind source; give the node's absolute path\n"},
		{name: "engine error keeps its words", args: []string{"stack", "run", "app", "web"},
			err: fmt.Errorf("oneshot: inspect the service app_web: %w", oneshot.ErrNotSwarmManager), calls: []string{"service app_web"},
			want: "oneshot: inspect the service app_web: engine is not a swarm manager\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeReader{err: tc.err}
			code, stdout, stderr := commandForTest(fake.reader(), tc.args...)
			assert.Equal(t, 125, code)
			assert.Empty(t, stdout)
			assert.Equal(t, tc.want, stderr)
			assert.Equal(t, tc.calls, fake.calls)
		})
	}
}

func TestSourceErrorWithJSON(t *testing.T) {
	fake := &fakeReader{err: fmt.Errorf("oneshot: %w: %q", oneshot.ErrServiceNotFound, "app_web")}
	code, stdout, stderr := commandForTest(fake.reader(), "stack", "run", "--json", "app", "web")
	assert.Equal(t, 125, code)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	assert.Equal(t, -1.0, got["ExitCode"])
	assert.Contains(t, got["Error"], `service not found: "app_web"`)
	assert.Contains(t, stderr, `oneshot: service not found: "app_web"`)
}

func TestReadAsksTheSource(t *testing.T) {
	fake := &fakeReader{spec: oneshot.JobSpec{Image: "app:v2"}}
	for _, tc := range []struct {
		source specSource
		calls  []string
	}{
		{source: specSource{}},
		{source: specSource{service: "app_web", stack: "app"}, calls: []string{"service app_web"}},
		{source: specSource{compose: "stack.yml", stack: "app", composeService: "web"}, calls: []string{"compose stack.yml app web"}},
	} {
		fake.calls = nil
		spec, err := fake.reader().read(context.Background(), tc.source)
		require.NoError(t, err)
		assert.Equal(t, tc.calls, fake.calls)
		assert.Equal(t, tc.source.isZero(), spec.Image == "", "a plain run starts from nothing")
	}
}
