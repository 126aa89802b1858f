package main

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oneshot-go/oneshot"
)

func TestExplainError(t *testing.T) {
	flags := &runFlags{
		image:    "app:v2",
		secrets:  stringList{"db-password", "source=api-key,target=/etc/key"},
		networks: stringList{"backend"},
		mounts:   stringList{"type=volume,source=data,target=/data"},
		volumes:  stringList{"cache:relative"},
		tmpfs:    stringList{"/scratch"},
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{name: "indexed secret", err: &oneshot.SpecError{Field: "Secrets[1].Name", Problem: `no secret named "api-key" on the swarm`, Fix: "create it first"},
			want: `oneshot: --secret "source=api-key,target=/etc/key": no secret named "api-key" on the swarm; create it first`},
		{name: "mount from -v after --mount", err: &oneshot.SpecError{Field: "Mounts[1].Target", Problem: `"relative" is not an absolute path`, Fix: "give the path inside the container, starting with /"},
			want: `oneshot: --mount/-v/--tmpfs "cache:relative": "relative" is not an absolute path; give the path inside the container, starting with /`},
		{name: "tmpfs last", err: &oneshot.SpecError{Field: "Mounts[2].Target", Problem: "mounted twice"},
			want: `oneshot: --mount/-v/--tmpfs "/scratch": mounted twice`},
		{name: "Go advice left out", err: &oneshot.SpecError{Field: "Mounts[0].Source", Problem: `"a/b" is a path`, Fix: "use MountBind (WithBind)"},
			want: `oneshot: --mount/-v/--tmpfs "type=volume,source=data,target=/data": "a/b" is a path`},
		{name: "option named as its flag", err: &oneshot.SpecError{Field: "Env[3]", Problem: `"=x" is not KEY=VALUE`, Fix: "write KEY=VALUE, or use WithEnvFile"},
			want: `oneshot: -e/--env-file: "=x" is not KEY=VALUE; write KEY=VALUE, or use --env-file`},
		{name: "image", err: &oneshot.SpecError{Field: "Image", Problem: "not an image reference"},
			want: `oneshot: IMAGE "app:v2": not an image reference`},
		{name: "label key", err: &oneshot.SpecError{Field: "Labels[oneshot.x]", Problem: "reserved"},
			want: `oneshot: --label "oneshot.x": reserved`},
		{name: "log driver", err: &oneshot.SpecError{Field: "LogDriver.Name", Problem: `"syslog": unreadable`, Fix: `use "json-file"`},
			want: `oneshot: --log-driver/--log-opt: "syslog": unreadable; use "json-file"`},
		{name: "index out of range", err: &oneshot.SpecError{Field: "Networks[5].Name", Problem: "empty"},
			want: `oneshot: --network: empty`},
		{name: "unknown field keeps the Go name", err: &oneshot.SpecError{Field: "Hostname", Problem: "bad"},
			want: `oneshot: JobSpec.Hostname: bad`},
		{name: "not a spec error", err: errors.New("oneshot: create the job's service: boom"),
			want: "oneshot: create the job's service: boom"},
		{name: "wrapped", err: fmt.Errorf("context: %w", &oneshot.SpecError{Field: "Env", Problem: "read env file: no such file", Err: fs.ErrNotExist}),
			want: `oneshot: -e/--env-file: read env file: no such file`},
		{name: "task error advice", err: &oneshot.TaskError{Kind: oneshot.ErrUnschedulable, ServiceName: "oneshot-a", State: oneshot.StatePending},
			want: "oneshot: job oneshot-a: no suitable node (task  pending); check the job's constraints and resources against `docker node ls`, or give it a longer --schedule-timeout"},
		{name: "joined, one a line", err: errors.Join(
			&oneshot.SpecError{Field: "Secrets[0].Name", Problem: "missing"},
			&oneshot.SpecError{Field: "Networks[0].Name", Problem: "missing"}),
			want: "oneshot: --secret \"db-password\": missing\noneshot: --network \"backend\": missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, flags.explainError(tc.err))
		})
	}
}

func TestExplainErrorOfAJobFromAService(t *testing.T) {
	f, err := parseStackRunFlags([]string{"--mount", "type=volume,source=cache,target=cache", "--secret", "api-key", "app", "web"})
	assert.NoError(t, err)
	f.jobBase(oneshot.JobSpec{
		Image:   "app:v2",
		Mounts:  []oneshot.Mount{{Source: "app_data", Target: "/data"}, {Source: "logs", Target: "/logs"}},
		Secrets: []oneshot.SecretRef{{Name: "db-password"}},
	})
	withImage, err := parseStackRunFlags([]string{"--image", "App:V3", "app", "web"})
	assert.NoError(t, err)
	withImage.jobBase(oneshot.JobSpec{Image: "app:v2"})
	fromCompose, err := parseRunFlags([]string{"--compose", "stack.yml", "--stack", "app", "--service", "web", "--network", "ops"})
	assert.NoError(t, err)
	fromCompose.jobBase(oneshot.JobSpec{Image: "app:v2", Networks: []oneshot.NetworkAttachment{{Name: "app_default"}}})
	cases := []struct {
		name  string
		flags *runFlags
		err   error
		want  string
	}{
		{name: "a flag's mount after the service's", flags: f, err: &oneshot.SpecError{Field: "Mounts[2].Target", Problem: `"cache" is not an absolute path`},
			want: `oneshot: --mount/-v/--tmpfs "type=volume,source=cache,target=cache": "cache" is not an absolute path`},
		{name: "the service's own mount", flags: f, err: &oneshot.SpecError{Field: "Mounts[1].Source", Problem: "bad"},
			want: `oneshot: service app_web: Mounts[1].Source: bad`},
		{name: "a flag's secret", flags: f, err: &oneshot.SpecError{Field: "Secrets[1].Name", Problem: `no secret named "api-key" on the swarm`, Fix: "create it first"},
			want: `oneshot: --secret "api-key": no secret named "api-key" on the swarm; create it first`},
		{name: "the service's secret", flags: f, err: &oneshot.SpecError{Field: "Secrets[0].Name", Problem: `no secret named "db-password" on the swarm`},
			want: `oneshot: service app_web: Secrets[0].Name: no secret named "db-password" on the swarm`},
		{name: "the service's image", flags: f, err: &oneshot.SpecError{Field: "Image", Problem: "not found"},
			want: `oneshot: service app_web: Image: not found`},
		{name: "a network of the compose file", flags: fromCompose, err: &oneshot.SpecError{Field: "Networks[0].Name", Problem: `no swarm network named "app_default"`, Fix: "deploy the stack first"},
			want: `oneshot: stack.yml: service web of stack app: Networks[0].Name: no swarm network named "app_default"; deploy the stack first`},
		{name: "a network of a flag", flags: fromCompose, err: &oneshot.SpecError{Field: "Networks[1].Name", Problem: `no swarm network named "ops"`},
			want: `oneshot: --network "ops": no swarm network named "ops"`},
		{name: "--image", flags: withImage, err: &oneshot.SpecError{Field: "Image", Problem: "not an image reference"},
			want: `oneshot: --image "App:V3": not an image reference`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.flags.explainError(tc.err))
		})
	}
}
