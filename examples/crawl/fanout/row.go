package fanout

// Row is the outcome of one URL.
type Row struct {
	URL string
	// Internal and External are the page's link counts (zero unless OK).
	Internal, External int
	// Status is "ok", "exit N" (the job exited with code N), or what kept
	// the job from giving an exit code: "timeout", "canceled", "bad url",
	// "bad spec", "bad output", the kind of a task failure ("image not
	// found", "no suitable node"...), or "error".
	Status string
	// Detail says why, when the URL was not counted: the job's last line on
	// stderr, or the error's message.
	Detail string
	// OK says whether the page was counted.
	OK bool
	// Ran says whether the job's container ran (it has an exit code, even a
	// non-zero one, or it was seen running before it was stopped).
	Ran bool
}

// The exit codes of the crawl command, which ExitCode chooses among.
const (
	ExitAllOK      = 0
	ExitSomeFailed = 1
	ExitNoneRan    = 125
)

// ExitCode returns the crawl command's exit code for rows: ExitAllOK when
// every URL was counted, ExitNoneRan when no job ran at all (like docker run's
// 125: the swarm, the image or the input is at fault, not the pages), and
// ExitSomeFailed otherwise.
func ExitCode(rows []Row) int {
	ok, ran := 0, 0
	for _, r := range rows {
		if r.OK {
			ok++
		}
		if r.Ran {
			ran++
		}
	}
	switch {
	case ok == len(rows):
		return ExitAllOK
	case ran == 0:
		return ExitNoneRan
	}
	return ExitSomeFailed
}
