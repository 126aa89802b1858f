package fanout

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// PrintTable prints one line per row (URL, internal and external links,
// status) and a line of totals.
func PrintTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "URL\tINTERNAL\tEXTERNAL\tSTATUS")
	var internal, external, ok int
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", r.URL, r.Internal, r.External, r.Status)
		internal += r.Internal
		external += r.External
		if r.OK {
			ok++
		}
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d/%d ok\n", internal, external, ok, len(rows))
	return tw.Flush()
}

// PrintDetails prints, one line each, why each URL that was not counted
// failed, and what went wrong after a URL was counted (a service that could
// not be removed...).
func PrintDetails(w io.Writer, rows []Row) error {
	for _, r := range rows {
		if r.OK && r.Detail == "" {
			continue
		}
		line := "crawl: " + r.URL + ": " + r.Status
		if r.Detail != "" {
			line += ": " + r.Detail
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}
