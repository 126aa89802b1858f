package fanout

// Row is the outcome of one URL. Its JSON form is what crawl -json prints
// for each page.
type Row struct {
	URL string `json:"url"`
	// Internal and External are the page's link counts (zero unless OK).
	Internal int `json:"internal"`
	External int `json:"external"`
	// Status is "ok", "exit N" (the job exited with code N), or what kept
	// the job from giving an exit code: "timeout", "canceled", "bad url",
	// "bad spec", "bad output", the kind of a task failure ("image not
	// found", "no suitable node"...), or "error".
	Status string `json:"status"`
	// Detail says why, when the URL was not counted: the job's last line on
	// stderr, or the error's message.
	Detail string `json:"detail,omitempty"`
	// OK says whether the page was counted.
	OK bool `json:"ok"`
	// Ran says whether the job's container ran (it has an exit code, even a
	// non-zero one, or it was seen running before it was stopped).
	Ran bool `json:"ran"`
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
