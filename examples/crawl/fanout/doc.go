// Package fanout is the heart of the crawl command: it counts the links of
// many pages at once with one oneshot job of many tasks, one hrefcounter
// task per page, at most N running at a time, and turns each task's outcome
// into a row of the table that crawl prints. Each task is given the whole
// list of URLs and counts the one at its index (ONESHOT_TASK_INDEX). The
// job is run through an interface that *oneshot.Runner satisfies, so that
// the package is tested without Docker.
package fanout
