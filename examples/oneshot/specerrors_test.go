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
