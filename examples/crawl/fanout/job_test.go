package fanout

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/oneshot-go/oneshot"
)

func TestRowFor(t *testing.T) {
	exited := &oneshot.Result{ExitCode: 3, ServiceName: "oneshot-1"}
	rejected := &oneshot.Result{ExitCode: -1, State: oneshot.StateRejected}
	stopped := &oneshot.Result{ExitCode: -1, StartedAt: time.Now()}
	counted := &oneshot.Result{Stdout: []byte(`{"internal":1,"external":5}`)}
	cases := []struct {
		name   string
		res    *oneshot.Result
		err    error
		want   Row
		detail string
	}{
		{name: "counted", res: counted, want: Row{Internal: 1, External: 5, Status: "ok", OK: true, Ran: true}},
		{name: "non-zero exit", res: exited, err: &oneshot.ExitError{Result: exited, Stderr: []byte("starting\nhrefcounter: GET x: 404 Not Found\n")},
			want: Row{Status: "exit 3", Ran: true}, detail: "hrefcounter: GET x: 404 Not Found"},
		{name: "image not found", res: rejected, err: &oneshot.TaskError{Kind: oneshot.ErrImageNotFound, State: oneshot.StateRejected},
			want: Row{Status: "image not found"}, detail: "image not found"},
		{name: "timeout after starting", res: stopped, err: fmt.Errorf("oneshot: job x: %w", context.DeadlineExceeded),
			want: Row{Status: "timeout", Ran: true}, detail: "deadline exceeded"},
		{name: "canceled before starting", err: context.Canceled, want: Row{Status: "canceled"}, detail: "canceled"},
		{name: "spec error", err: &oneshot.SpecError{Field: "Networks[0]", Problem: "no network named \"web\""},
			want: Row{Status: "bad spec"}, detail: "Networks[0]"},
		{name: "engine unreachable", err: errors.New("oneshot: create the job's service: cannot reach the Docker engine"),
			want: Row{Status: "error"}, detail: "cannot reach"},
		{name: "not JSON", res: &oneshot.Result{Stdout: []byte("hello\n")}, want: Row{Status: "bad output", Ran: true}, detail: `"hello"`},
		{name: "counted, service left behind", res: counted, err: &oneshot.CleanupError{ServiceID: "abc", Err: errors.New("engine gone")},
			want: Row{Internal: 1, External: 5, Status: "ok", OK: true, Ran: true}, detail: "remove service abc"},
		{name: "no result, no error", want: Row{Status: "error"}, detail: "no result"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			row := rowFor("http://site/", tc.res, tc.err)
			assert.Contains(t, row.Detail, tc.detail)
			row.Detail = ""
			tc.want.URL = "http://site/"
			assert.Equal(t, tc.want, row)
		})
	}
}

func TestJobConfigSpec(t *testing.T) {
	urls := []string{"http://a/", "http://b/"}
	cases := []struct {
		name     string
		cfg      JobConfig
		parallel int
		want     oneshot.JobSpec
	}{
		{name: "defaults", parallel: 8,
			want: oneshot.JobSpec{Image: DefaultImage, Command: urls, Tasks: 2, Parallelism: 8}},
		{name: "a timeout bounds the fetch and the wait for a node", cfg: JobConfig{Image: "mine:1", Timeout: 30 * time.Second}, parallel: 1,
			want: oneshot.JobSpec{Image: "mine:1", Command: []string{"-timeout", "30s", "http://a/", "http://b/"}, Tasks: 2, Parallelism: 1, ScheduleTimeout: 30 * time.Second}},
		{name: "at least one at a time", parallel: 0,
			want: oneshot.JobSpec{Image: DefaultImage, Command: urls, Tasks: 2, Parallelism: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.cfg.spec(urls, tc.parallel))
		})
	}
}

func TestJobConfigOptionsAreEachJobsOwn(t *testing.T) {
	// Options with room to grow: appending the networks in place would
	// change the caller's slice.
	opts := make([]oneshot.Option, 1, 8)
	opts[0] = oneshot.WithLabel("team", "seo")
	cfg := JobConfig{Networks: []string{"web", "back"}, Options: opts}
	first, second := cfg.options(), cfg.options()
	assert.Len(t, first, 3)
	assert.Len(t, second, 3)
	first[1] = nil
	assert.NotNil(t, second[1])
	var spec oneshot.JobSpec
	for _, o := range second {
		assert.NoError(t, o(&spec))
	}
	assert.Equal(t, []oneshot.NetworkAttachment{{Name: "web"}, {Name: "back"}}, spec.Networks)
	assert.Equal(t, map[string]string{"team": "seo"}, spec.Labels)
}
