package fanout

import (
	"context"
	"sync"
)

// CountFunc counts the links of one URL: with a job on the swarm in the crawl
// command (see JobCounter), with a plain function in tests. It reports every
// failure in the Row it returns.
type CountFunc func(ctx context.Context, url string) Row

// Crawl runs count over urls, at most parallel at a time (at least one), and
// returns the rows in the order of urls. A failure of one URL does not stop
// the others. When ctx is done, the URLs not yet started are not run: their
// rows say "canceled".
func Crawl(ctx context.Context, urls []string, parallel int, count CountFunc) []Row {
	rows := make([]Row, len(urls))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(max(parallel, 1), len(urls)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil { // the feed may pick a worker over ctx.Done
					rows[i] = notRun(urls[i], ctx.Err())
					continue
				}
				rows[i] = count(ctx, urls[i])
			}
		}()
	}
	feed(ctx, next, urls, rows)
	wg.Wait()
	return rows
}

// feed sends the index of each URL to the workers, and marks the URLs it
// could not send before ctx was done as canceled.
func feed(ctx context.Context, next chan<- int, urls []string, rows []Row) {
	defer close(next)
	for i, u := range urls {
		if ctx.Err() != nil {
			rows[i] = notRun(u, ctx.Err())
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			rows[i] = notRun(u, ctx.Err())
		}
	}
}

// notRun is the row of a URL whose job was never started.
func notRun(url string, err error) Row {
	return Row{URL: url, Status: "canceled", Detail: "not started: " + err.Error()}
}
