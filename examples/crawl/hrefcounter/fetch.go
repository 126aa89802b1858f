package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/oneshot-go/oneshot/examples/crawl/links"
)

// countError is an error with the exit code it calls for.
type countError struct {
	code int
	err  error
}

func (e *countError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *countError) Unwrap() error { return e.err }

// exitCode returns the exit code that err calls for.
func exitCode(err error) int {
	var ce *countError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitFetch
}

// countPage fetches the page at rawURL and counts its links.
func countPage(rawURL string, timeout time.Duration) (links.Counts, error) {
	page, err := url.Parse(rawURL)
	if err != nil || (page.Scheme != "http" && page.Scheme != "https") || page.Host == "" {
		return links.Counts{}, &countError{exitBadUsage, fmt.Errorf("%q is not an http(s) URL", rawURL)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := get(ctx, page)
	if err != nil {
		return links.Counts{}, err
	}
	defer resp.Body.Close()
	final := resp.Request.URL // after redirects
	internal, external, err := links.Count(final, io.LimitReader(resp.Body, maxPageSize))
	if err != nil {
		return links.Counts{}, &countError{exitFetch, fmt.Errorf("read %s: %w", final, err)}
	}
	return links.Counts{URL: rawURL, Internal: internal, External: external}, nil
}

// get GETs the page and returns the response if it is 200 OK.
func get(ctx context.Context, page *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page.String(), nil)
	if err != nil {
		return nil, &countError{exitBadUsage, err}
	}
	req.Header.Set("User-Agent", "oneshot-hrefcounter/1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, &countError{exitFetch, err}
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &countError{exitHTTP, fmt.Errorf("GET %s: %s", page, resp.Status)}
	}
	return resp, nil
}

// writeCounts prints counts as one line of JSON.
func writeCounts(w io.Writer, counts links.Counts) error {
	return json.NewEncoder(w).Encode(counts)
}
