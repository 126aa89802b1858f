// Package fanout is the heart of the crawl command: it counts the links of
// many pages at once, one hrefcounter job per page on the swarm through one
// oneshot.Runner, at most N at a time, and turns each job's outcome into a
// row of the table that crawl prints. The fan-out takes the work for one URL
// as a function, so that it is tested without Docker.
package fanout
