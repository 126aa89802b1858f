package fanout

import (
	"context"
	"errors"
	"fmt"

	"github.com/oneshot-go/oneshot"
)

// MaxPagesPerJob bounds the tasks of one job: every task's service carries
// the job's whole list of URLs (the tasks of a job share its spec, and
// each picks its URL by ONESHOT_TASK_INDEX), so a job of N pages stores
// N lists of N URLs on the swarm's managers. Past this many pages a crawl
// runs several jobs, one after another.
const MaxPagesPerJob = 100

// Crawl counts the links of urls with jobs of hrefcounter on the swarm, run
// by r: one job of a task per page, at most parallel tasks at once (at
// least one), up to MaxPagesPerJob pages a job. It returns the rows in the
// order of urls. A URL that is not http(s) gets a "bad url" row and no
// task; a page that fails does not stop the others. When ctx is done, the
// job in flight is stopped (its tasks' services removed) and no more start:
// the rows of the pages stopped or never started say "canceled".
func Crawl(ctx context.Context, r JobRunner, cfg JobConfig, urls []string, parallel int) []Row {
	rows := make([]Row, len(urls))
	var pages []int // the indexes of the URLs to count, in order
	for i, u := range urls {
		if err := checkURL(u); err != nil {
			rows[i] = Row{URL: u, Status: "bad url", Detail: err.Error()}
			continue
		}
		pages = append(pages, i)
	}
	for len(pages) > 0 {
		batch := pages[:min(len(pages), MaxPagesPerJob)]
		pages = pages[len(batch):]
		batchURLs := make([]string, len(batch))
		for j, i := range batch {
			batchURLs[j] = urls[i]
		}
		var batchRows []Row
		if err := ctx.Err(); err != nil {
			batchRows = notRun(batchURLs, err)
		} else {
			res, err := r.Run(ctx, cfg.spec(batchURLs, parallel), cfg.options()...)
			batchRows = rowsFor(batchURLs, res, err)
		}
		for j, i := range batch {
			rows[i] = batchRows[j]
		}
	}
	return rows
}

// notRun are the rows of URLs whose job was never started.
func notRun(urls []string, err error) []Row {
	rows := make([]Row, len(urls))
	for i, u := range urls {
		rows[i] = Row{URL: u, Status: "canceled", Detail: "not started: " + err.Error()}
	}
	return rows
}

// rowsFor turns the outcome of the job of urls into their rows: each
// task's result into its page's row, or, when the job did not start (no
// Result), its error into every page's row.
func rowsFor(urls []string, res *oneshot.Result, err error) []Row {
	rows := make([]Row, len(urls))
	tasks := tasksOf(res, err)
	if len(tasks) != len(urls) {
		for i, u := range urls {
			rows[i] = rowFor(u, nil, jobError(res, err, len(tasks), len(urls)))
		}
		return rows
	}
	left := leftBehind(res)
	for i, t := range tasks {
		rows[i] = rowFor(urls[i], &oneshot.Result{ExitCode: t.ExitCode, State: t.State, Stdout: t.Stdout, Stderr: t.Stderr,
			StartedAt: t.StartedAt, FinishedAt: t.FinishedAt}, t.Err)
		if cleanup := left[t.ServiceID]; cleanup != nil && t.ServiceID != "" {
			rows[i].Detail = joinDetail(rows[i].Detail, cleanup.Error())
		}
	}
	return rows
}

// tasksOf is the result of each task of the job: Result.Tasks, or the
// Result itself when it has no Tasks (a Result made by hand); none without
// a Result.
func tasksOf(res *oneshot.Result, err error) []oneshot.TaskResult {
	switch {
	case res == nil:
		return nil
	case len(res.Tasks) > 0:
		return res.Tasks
	}
	return []oneshot.TaskResult{{ServiceID: res.ServiceID, TaskID: res.TaskID, NodeID: res.NodeID, ExitCode: res.ExitCode,
		State: res.State, Stdout: res.Stdout, Stderr: res.Stderr, Err: err, StartedAt: res.StartedAt, FinishedAt: res.FinishedAt}}
}

// jobError is what every row of a job without a task per page says: the
// job's error, or that its tasks do not match the pages.
func jobError(res *oneshot.Result, err error, tasks, pages int) error {
	if res == nil && err != nil {
		return err
	}
	return errors.Join(err, fmt.Errorf("the job has %d task results for %d pages", tasks, pages))
}

// leftBehind maps the service of each task that could not be removed to
// the error that says so.
func leftBehind(res *oneshot.Result) map[string]error {
	left := map[string]error{}
	if res == nil {
		return left
	}
	for _, err := range joined(res.CleanupErr) {
		var cleanup *oneshot.CleanupError
		if errors.As(err, &cleanup) {
			left[cleanup.ServiceID] = err
		}
	}
	return left
}

// joined returns the errors that errors.Join put together in err, or err
// itself; none for nil.
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if _, stop := err.(*oneshot.StopError); !stop {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, joined(e)...)
			}
			return out
		}
	}
	return []error{err}
}

// joinDetail adds more to a row's detail.
func joinDetail(detail, more string) string {
	if detail == "" {
		return more
	}
	return detail + "; " + more
}
