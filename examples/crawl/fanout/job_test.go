package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// fakeRunner returns a canned outcome and records the job it was asked for.
type fakeRunner struct {
	res  *oneshot.Result
	err  error
	spec oneshot.JobSpec
	opts []oneshot.Option
	runs int
}

func (f *fakeRunner) Run(_ context.Context, spec oneshot.JobSpec, opts ...oneshot.Option) (*oneshot.Result, error) {
	f.spec, f.opts, f.runs = spec, opts, f.runs+1
	return f.res, f.err
}

// applied returns the spec the recorded options make of the recorded spec.
func (f *fakeRunner) applied(t *testing.T) oneshot.JobSpec {
	spec := f.spec
	for _, opt := range f.opts {
		require.NoError(t, opt(&spec))
	}
	return spec
}

func TestJobCounterMakesTheJob(t *testing.T) {
	f := &fakeRunner{res: &oneshot.Result{Stdout: []byte(`{"url":"http://site/","internal":4,"external":2}` + "\n")}}
	count := JobCounter(f, JobConfig{Networks: []string{"web", "back"}, Timeout: time.Minute, Options: []oneshot.Option{oneshot.WithLabel("team", "seo")}})
	row := count(context.Background(), "http://site/")
	assert.Equal(t, Row{URL: "http://site/", Internal: 4, External: 2, Status: "ok", OK: true, Ran: true}, row)
	spec := f.applied(t)
	assert.Equal(t, DefaultImage, spec.Image)
	assert.Equal(t, []string{"http://site/"}, spec.Command)
	assert.Equal(t, time.Minute, spec.Timeout)
	assert.Equal(t, []oneshot.NetworkAttachment{{Name: "web"}, {Name: "back"}}, spec.Networks)
	assert.Equal(t, map[string]string{"team": "seo", "crawl.url": "http://site/"}, spec.Labels)
}

func TestJobCounterRefusesBadURLsWithoutAJob(t *testing.T) {
	f := &fakeRunner{}
	count := JobCounter(f, JobConfig{Image: "mine:1"})
	for _, u := range []string{"ftp://site/", "site/page", "http:///x", "http://[::1"} {
		row := count(context.Background(), u)
		assert.Equal(t, "bad url", row.Status, u)
		assert.NotEmpty(t, row.Detail, u)
		assert.False(t, row.Ran, u)
	}
	assert.Zero(t, f.runs)
}

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

// labelRunner records the crawl.url label of each job it is asked for.
type labelRunner struct {
	mu     sync.Mutex
	labels map[string]string // command's URL -> label
}

func (l *labelRunner) Run(_ context.Context, spec oneshot.JobSpec, opts ...oneshot.Option) (*oneshot.Result, error) {
	for _, opt := range opts {
		if err := opt(&spec); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.labels[spec.Command[0]] = spec.Labels["crawl.url"]
	return &oneshot.Result{Stdout: []byte(`{}`)}, nil
}

func TestJobCounterConcurrentJobsKeepTheirOwnOptions(t *testing.T) {
	l := &labelRunner{labels: map[string]string{}}
	// Options and networks make a slice with room to grow: appending to it in
	// place would mix the jobs up.
	opts := make([]oneshot.Option, 1, 8)
	opts[0] = oneshot.WithLabel("team", "seo")
	count := JobCounter(l, JobConfig{Networks: []string{"web", "back"}, Options: opts})
	var urls []string
	for i := range 50 {
		urls = append(urls, fmt.Sprintf("http://site/%d", i))
	}
	Crawl(context.Background(), urls, 16, count)
	for _, u := range urls {
		assert.Equal(t, u, l.labels[u])
	}
}
