package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/crawl/links"
)

// rowFor turns the outcome of one URL's task (its result as a Result, and
// its error) into its row.
func rowFor(url string, res *oneshot.Result, err error) Row {
	row := Row{URL: url, Ran: ran(res)}
	var exitErr *oneshot.ExitError
	var taskErr *oneshot.TaskError
	var specErr *oneshot.SpecError
	switch {
	case errors.As(err, &exitErr):
		row.Status, row.Detail = fmt.Sprintf("exit %d", exitErr.ExitCode()), lastLine(exitErr.Stderr)
	case errors.As(err, &taskErr):
		row.Status, row.Detail = taskErr.Kind.Error(), err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		row.Status, row.Detail = "timeout", err.Error()
	case errors.Is(err, context.Canceled):
		row.Status, row.Detail = "canceled", err.Error()
	case errors.As(err, &specErr):
		row.Status, row.Detail = "bad spec", err.Error()
	case res != nil && res.ExitCode == 0:
		return counted(row, res, err)
	default:
		row.Status, row.Detail = "error", errText(err)
	}
	return row
}

// counted fills the row of a job that exited 0 from its output. A non-nil
// err (the service could not be removed...) is kept as the row's Detail.
func counted(row Row, res *oneshot.Result, err error) Row {
	var c links.Counts
	if jsonErr := json.Unmarshal(res.Stdout, &c); jsonErr != nil {
		row.Status, row.Detail = "bad output", fmt.Sprintf("job output %q: %v", lastLine(res.Stdout), jsonErr)
		return row
	}
	row.Internal, row.External, row.Status, row.OK = c.Internal, c.External, "ok", true
	if err != nil {
		row.Detail = err.Error()
	}
	return row
}

// ran says whether the job's container ran: it has an exit code, or oneshot
// saw it running before it was stopped.
func ran(res *oneshot.Result) bool {
	return res != nil && (res.ExitCode >= 0 || !res.StartedAt.IsZero())
}

// lastLine returns the last non-empty line of b.
func lastLine(b []byte) string {
	s := strings.TrimRight(string(b), "\r\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// errText is err's message, or a word for a missing error.
func errText(err error) string {
	if err == nil {
		return "no result"
	}
	return err.Error()
}
