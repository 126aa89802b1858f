package fanout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// fakeSwarm runs jobs as the library would run a job of many tasks of
// hrefcounter: each task counts the URL at its index in the job's
// command, 1 internal and 2 external links, except a URL with "fail" in
// it, which exits 3. It records the spec of each job, its options
// applied; answer, when set, replaces its answer.
type fakeSwarm struct {
	mu     sync.Mutex
	jobs   []oneshot.JobSpec
	answer func(ctx context.Context, spec oneshot.JobSpec) (*oneshot.Result, error)
}

func (f *fakeSwarm) Run(ctx context.Context, spec oneshot.JobSpec, opts ...oneshot.Option) (*oneshot.Result, error) {
	for _, o := range opts {
		if err := o(&spec); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	f.jobs = append(f.jobs, spec)
	f.mu.Unlock()
	if f.answer != nil {
		return f.answer(ctx, spec)
	}
	return hrefcounterJob(spec, nil), nil
}

// hrefcounterJob is the Result of the job of spec, as fakeSwarm runs it;
// task, when set, changes each task's result.
func hrefcounterJob(spec oneshot.JobSpec, task func(*oneshot.TaskResult)) *oneshot.Result {
	urls := spec.Command
	if len(urls) > 1 && urls[0] == "-timeout" {
		urls = urls[2:]
	}
	res := &oneshot.Result{ServiceName: "oneshot-fake", State: oneshot.StateComplete}
	started := time.Unix(1, 0)
	for i, u := range urls {
		t := oneshot.TaskResult{Index: i, ServiceID: fmt.Sprintf("svc%d", i), State: oneshot.StateComplete, StartedAt: started, FinishedAt: started,
			Stdout: []byte(fmt.Sprintf(`{"url":%q,"internal":1,"external":2}`+"\n", u))}
		if strings.Contains(u, "fail") {
			t.State, t.ExitCode, t.Stdout = oneshot.StateFailed, 3, nil
			t.Err = &oneshot.ExitError{Result: &oneshot.Result{ExitCode: 3}, Stderr: []byte("hrefcounter: GET " + u + ": 404 Not Found\n")}
		}
		if task != nil {
			task(&t)
		}
		res.Tasks = append(res.Tasks, t)
	}
	return res
}

// pages are n URLs, page-0 to page-n-1.
func pages(n int) []string {
	var urls []string
	for i := range n {
		urls = append(urls, fmt.Sprintf("http://site/page-%d", i))
	}
	return urls
}

func TestCrawlRunsOneJobOfATaskPerPage(t *testing.T) {
	f := &fakeSwarm{}
	cfg := JobConfig{Networks: []string{"web"}, Timeout: time.Minute, Options: []oneshot.Option{oneshot.WithLabel("team", "seo")}}
	urls := []string{"http://site/a", "ftp://site/", "http://site/fail", "http://site/b"}
	rows := Crawl(context.Background(), f, cfg, urls, 2)

	require.Len(t, f.jobs, 1, "one job for the crawl")
	job := f.jobs[0]
	assert.Equal(t, []string{"-timeout", "1m0s", "http://site/a", "http://site/fail", "http://site/b"}, job.Command, "every task gets the list, not the bad URL")
	assert.Equal(t, [3]int{3, 2, 0}, [3]int{job.Tasks, job.Parallelism, job.Retries})
	assert.Equal(t, DefaultImage, job.Image)
	assert.Equal(t, time.Minute, job.ScheduleTimeout)
	assert.Zero(t, job.Timeout, "the timeout bounds each page, not the crawl")
	assert.Equal(t, []oneshot.NetworkAttachment{{Name: "web"}}, job.Networks)
	assert.Equal(t, map[string]string{"team": "seo"}, job.Labels)

	assert.Equal(t, []Row{
		{URL: "http://site/a", Internal: 1, External: 2, Status: "ok", OK: true, Ran: true},
		{URL: "ftp://site/", Status: "bad url", Detail: `"ftp://site/" is not an http(s) URL`},
		{URL: "http://site/fail", Status: "exit 3", Detail: "hrefcounter: GET http://site/fail: 404 Not Found", Ran: true},
		{URL: "http://site/b", Internal: 1, External: 2, Status: "ok", OK: true, Ran: true},
	}, rows)
	assert.Equal(t, ExitSomeFailed, ExitCode(rows))
}

func TestCrawlRunsAJobPerMaxPages(t *testing.T) {
	f := &fakeSwarm{}
	urls := pages(2*MaxPagesPerJob + 1)
	rows := Crawl(context.Background(), f, JobConfig{}, urls, 8)
	require.Len(t, f.jobs, 3)
	for i, want := range []int{MaxPagesPerJob, MaxPagesPerJob, 1} {
		assert.Equal(t, want, f.jobs[i].Tasks, "job %d", i)
		assert.Equal(t, urls[i*MaxPagesPerJob:i*MaxPagesPerJob+want], f.jobs[i].Command, "job %d", i)
	}
	for i, r := range rows {
		assert.Equal(t, Row{URL: urls[i], Internal: 1, External: 2, Status: "ok", OK: true, Ran: true}, r)
	}
}

func TestCrawlCanceledStopsTheJobAndStartsNoMore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeSwarm{answer: func(ctx context.Context, spec oneshot.JobSpec) (*oneshot.Result, error) {
		cancel()
		// Task 0 was counted, task 1 was stopped running, the others never
		// started: as the library stops a job whose context is done.
		res := hrefcounterJob(spec, func(t *oneshot.TaskResult) {
			if t.Index == 0 {
				return
			}
			stop := &oneshot.StopError{Job: "oneshot-fake", Reason: context.Canceled, By: "the context given to Run", Result: &oneshot.Result{ExitCode: -1}}
			*t = oneshot.TaskResult{Index: t.Index, ExitCode: -1, Err: stop}
			if t.Index == 1 {
				t.ExitCode, t.State, t.StartedAt, t.Err = 143, oneshot.StateShutdown, time.Unix(1, 0), stop
			}
		})
		return res, &oneshot.StopError{Job: "oneshot-fake", Reason: context.Canceled, By: "the context given to Run", Result: res}
	}}
	urls := pages(MaxPagesPerJob + 2)
	rows := Crawl(ctx, f, JobConfig{}, urls, 2)
	assert.Len(t, f.jobs, 1, "no job starts once ctx is done")
	assert.Equal(t, "ok", rows[0].Status)
	assert.Equal(t, Row{URL: urls[1], Status: "canceled", Ran: true}, withoutDetail(rows[1]), "stopped running")
	assert.Equal(t, Row{URL: urls[2], Status: "canceled"}, withoutDetail(rows[2]), "never started")
	assert.Equal(t, Row{URL: urls[MaxPagesPerJob+1], Status: "canceled", Detail: "not started: context canceled"}, rows[MaxPagesPerJob+1], "in the job that never started")
	assert.Equal(t, ExitSomeFailed, ExitCode(rows))
}

func TestCrawlOfAJobThatCannotStart(t *testing.T) {
	specErr := &oneshot.SpecError{Field: "Networks[0]", Problem: `no swarm network named "web"`}
	f := &fakeSwarm{answer: func(context.Context, oneshot.JobSpec) (*oneshot.Result, error) { return nil, specErr }}
	rows := Crawl(context.Background(), f, JobConfig{}, []string{"http://a/", "http://b/"}, 2)
	for _, r := range rows {
		assert.Equal(t, "bad spec", r.Status, r.URL)
		assert.Contains(t, r.Detail, `no swarm network named "web"`, r.URL)
		assert.False(t, r.Ran, r.URL)
	}
	assert.Equal(t, ExitNoneRan, ExitCode(rows))
}

func TestCrawlOfTasksThatCouldNotRun(t *testing.T) {
	f := &fakeSwarm{answer: func(_ context.Context, spec oneshot.JobSpec) (*oneshot.Result, error) {
		res := hrefcounterJob(spec, func(t *oneshot.TaskResult) {
			*t = oneshot.TaskResult{Index: t.Index, ExitCode: -1, State: oneshot.StateRejected,
				Err: &oneshot.TaskError{Kind: oneshot.ErrImageNotFound, ServiceName: fmt.Sprint("oneshot-fake-", t.Index), Err: "No such image: nope:1"}}
		})
		return res, &oneshot.TasksError{Job: "oneshot-fake", Count: len(res.Tasks)}
	}}
	rows := Crawl(context.Background(), f, JobConfig{Image: "nope:1"}, []string{"http://a/", "http://b/"}, 2)
	assert.Equal(t, []string{"image not found", "image not found"}, statuses(rows))
	assert.Contains(t, rows[1].Detail, "No such image: nope:1")
	assert.Equal(t, ExitNoneRan, ExitCode(rows))
}

func TestCrawlSaysWhichServicesWereLeftBehind(t *testing.T) {
	f := &fakeSwarm{answer: func(_ context.Context, spec oneshot.JobSpec) (*oneshot.Result, error) {
		res := hrefcounterJob(spec, nil)
		res.CleanupErr = errors.Join(&oneshot.CleanupError{ServiceID: "svc1", Err: errors.New("engine gone")})
		return res, nil
	}}
	rows := Crawl(context.Background(), f, JobConfig{}, []string{"http://a/", "http://b/", "http://fail/"}, 2)
	assert.Empty(t, rows[0].Detail)
	assert.True(t, rows[1].OK)
	assert.Contains(t, rows[1].Detail, "remove service svc1: engine gone")
	assert.Equal(t, ExitAllOK, ExitCode(rows[:2]))
}

func TestCrawlOfAResultWithoutTasks(t *testing.T) {
	cases := []struct {
		name   string
		urls   []string
		res    *oneshot.Result
		err    error
		status []string
	}{
		{name: "one page, a Result made by hand", urls: []string{"http://a/"},
			res: &oneshot.Result{Stdout: []byte(`{"internal":3,"external":4}`)}, status: []string{"ok"}},
		{name: "two pages, one Result", urls: []string{"http://a/", "http://b/"},
			res: &oneshot.Result{Stdout: []byte(`{"internal":3,"external":4}`)}, status: []string{"error", "error"}},
		{name: "no Result, no error", urls: []string{"http://a/"}, status: []string{"error"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSwarm{answer: func(context.Context, oneshot.JobSpec) (*oneshot.Result, error) { return tc.res, tc.err }}
			rows := Crawl(context.Background(), f, JobConfig{}, tc.urls, 1)
			assert.Equal(t, tc.status, statuses(rows))
		})
	}
}

func TestCrawlNoURLs(t *testing.T) {
	f := &fakeSwarm{}
	assert.Empty(t, Crawl(context.Background(), f, JobConfig{}, nil, 4))
	rows := Crawl(context.Background(), f, JobConfig{}, []string{"mailto:x@y"}, 4)
	assert.Equal(t, []string{"bad url"}, statuses(rows))
	assert.Empty(t, f.jobs, "no job without a page to count")
}

func TestExitCode(t *testing.T) {
	ok := Row{OK: true, Ran: true}
	failed := Row{Status: "exit 3", Ran: true}
	notRun := Row{Status: "image not found"}
	cases := []struct {
		name string
		rows []Row
		want int
	}{
		{"all ok", []Row{ok, ok}, ExitAllOK},
		{"one failed", []Row{ok, failed}, ExitSomeFailed},
		{"all failed but ran", []Row{failed, failed}, ExitSomeFailed},
		{"one could not run", []Row{ok, notRun}, ExitSomeFailed},
		{"none could run", []Row{notRun, notRun}, ExitNoneRan},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, ExitCode(tc.rows), tc.name)
	}
}

// statuses returns the Status of each row.
func statuses(rows []Row) []string {
	var s []string
	for _, r := range rows {
		s = append(s, r.Status)
	}
	return s
}

// withoutDetail is r without its Detail.
func withoutDetail(r Row) Row {
	r.Detail = ""
	return r
}
