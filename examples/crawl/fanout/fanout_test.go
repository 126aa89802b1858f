package fanout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// fakeCount counts every URL as 1 internal and 2 external links, except
// "fail", and records the most calls in flight at once. Each call waits
// until want calls are in flight together (or have been made), so that the
// test sees the most the crawl allows without relying on timing.
type fakeCount struct {
	inFlight, most atomic.Int32
	calls          atomic.Int32
	want           int32
	gate           chan struct{}
	open           sync.Once
}

func newFakeCount(want int32) *fakeCount { return &fakeCount{want: want, gate: make(chan struct{})} }

func (f *fakeCount) count(_ context.Context, url string) Row {
	f.calls.Add(1)
	n := f.inFlight.Add(1)
	for m := f.most.Load(); n > m && !f.most.CompareAndSwap(m, n); m = f.most.Load() {
	}
	if n >= f.want {
		f.open.Do(func() { close(f.gate) })
	}
	select {
	case <-f.gate:
	case <-time.After(10 * time.Second): // a crawl that never lets want run at once fails the test, not hangs it
	}
	f.inFlight.Add(-1)
	if url == "fail" {
		return Row{URL: url, Status: "exit 3", Ran: true}
	}
	return Row{URL: url, Internal: 1, External: 2, Status: "ok", OK: true, Ran: true}
}

func TestCrawlBoundsParallelismAndKeepsOrder(t *testing.T) {
	for _, tc := range []struct{ parallel, urls, most int32 }{
		{parallel: 3, urls: 10, most: 3},
		{parallel: 1, urls: 4, most: 1},
		{parallel: 0, urls: 3, most: 1}, // at least one
		{parallel: 8, urls: 2, most: 2},
	} {
		f := newFakeCount(tc.most)
		var urls []string
		for i := range tc.urls {
			urls = append(urls, string(rune('a'+i)))
		}
		rows := Crawl(context.Background(), urls, int(tc.parallel), f.count)
		assert.Equal(t, tc.most, f.most.Load(), "most in flight with -parallel %d", tc.parallel)
		for i, r := range rows {
			assert.Equal(t, urls[i], r.URL)
			assert.True(t, r.OK)
		}
	}
}

func TestCrawlFailureDoesNotStopTheOthers(t *testing.T) {
	f := newFakeCount(2)
	rows := Crawl(context.Background(), []string{"a", "fail", "b", "c"}, 2, f.count)
	assert.Equal(t, int32(4), f.calls.Load())
	assert.Equal(t, []string{"ok", "exit 3", "ok", "ok"}, statuses(rows))
	assert.Equal(t, ExitSomeFailed, ExitCode(rows))
}

func TestCrawlCanceledStartsNothingMore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	count := func(ctx context.Context, url string) Row {
		calls.Add(1)
		cancel()
		return Row{URL: url, Status: "canceled"}
	}
	rows := Crawl(ctx, []string{"a", "b", "c"}, 1, count)
	assert.Equal(t, int32(1), calls.Load(), "no URL starts once ctx is done")
	assert.Equal(t, []string{"canceled", "canceled", "canceled"}, statuses(rows))
	assert.Equal(t, "not started: context canceled", rows[2].Detail)
	assert.Equal(t, ExitNoneRan, ExitCode(rows))
}

func TestCrawlNoURLs(t *testing.T) {
	assert.Empty(t, Crawl(context.Background(), nil, 4, (&fakeCount{}).count))
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
