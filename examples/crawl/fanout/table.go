package fanout

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Totals sums the rows of a crawl.
type Totals struct {
	// Internal and External are the links of all the pages counted.
	Internal int `json:"internal"`
	External int `json:"external"`
	// OK is how many of the Pages were counted.
	OK    int `json:"ok"`
	Pages int `json:"pages"`
}

// Sum adds up rows.
func Sum(rows []Row) Totals {
	t := Totals{Pages: len(rows)}
	for _, r := range rows {
		t.Internal += r.Internal
		t.External += r.External
		if r.OK {
			t.OK++
		}
	}
	return t
}

// PrintTable prints one line per row (URL, internal and external links,
// status) and a line of totals.
func PrintTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "URL\tINTERNAL\tEXTERNAL\tSTATUS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", r.URL, r.Internal, r.External, r.Status)
	}
	t := Sum(rows)
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d/%d ok\n", t.Internal, t.External, t.OK, t.Pages)
	return tw.Flush()
}

// report is what PrintJSON prints.
type report struct {
	Rows   []Row  `json:"rows"`
	Totals Totals `json:"totals"`
}

// PrintJSON prints the rows and their totals as one indented JSON object,
// {"rows": [...], "totals": {...}}, for scripts.
func PrintJSON(w io.Writer, rows []Row) error {
	if rows == nil {
		rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(report{Rows: rows, Totals: Sum(rows)})
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
