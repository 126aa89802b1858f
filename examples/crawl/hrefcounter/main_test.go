package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot/examples/crawl/links"
)

// hrefSite serves a few pages on loopback for the tests.
func hrefSite(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<a href="/a">a</a><a href="b">b</a><a href="#top">t</a><a href="https://other.example/">o</a>`))
	})
	mux.Handle("/moved", http.RedirectHandler("/page", http.StatusFound))
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<a href="/first">first</a>`))
		_, _ = w.Write(bytes.Repeat([]byte(" "), maxPageSize))
		_, _ = w.Write([]byte(`<a href="/beyond-the-cap">beyond</a>`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// closedURL returns an http URL on loopback where nothing listens.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr + "/"
}

// noEnv is an environment without variables: not a task of a job of
// several tasks.
func noEnv(string) string { return "" }

// taskEnv is the environment of task index of a job of count tasks.
func taskEnv(index, count string) func(string) string {
	return func(name string) string {
		return map[string]string{envTaskIndex: index, envTaskCount: count}[name]
	}
}

func TestRun(t *testing.T) {
	site := hrefSite(t).URL
	cases := []struct {
		name               string
		args               []string
		code               int
		internal, external int
		stderr             string
	}{
		{name: "counted", args: []string{site + "/page"}, internal: 2, external: 1},
		{name: "redirect followed", args: []string{site + "/moved"}, internal: 2, external: 1},
		{name: "size cap", args: []string{site + "/big"}, internal: 1},
		{name: "not found", args: []string{site + "/missing"}, code: exitHTTP, stderr: "404 Not Found"},
		{name: "refused", args: []string{closedURL(t)}, code: exitFetch, stderr: "connection refused"},
		{name: "timeout", args: []string{"-timeout", "1ns", site + "/page"}, code: exitFetch, stderr: "deadline exceeded"},
		{name: "not http", args: []string{"ftp://site/"}, code: exitBadUsage, stderr: "not an http(s) URL"},
		{name: "no host", args: []string{"http:///x"}, code: exitBadUsage, stderr: "not an http(s) URL"},
		{name: "no URL", args: nil, code: exitBadUsage, stderr: "usage"},
		{name: "two URLs", args: []string{site, site}, code: exitBadUsage, stderr: "usage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, noEnv, &stdout, &stderr)
			require.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			assert.Contains(t, stderr.String(), tc.stderr)
			if tc.code != 0 {
				assert.Empty(t, stdout.String())
				return
			}
			var got links.Counts
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
			assert.Equal(t, links.Counts{URL: tc.args[len(tc.args)-1], Internal: tc.internal, External: tc.external}, got)
			assert.True(t, strings.HasSuffix(stdout.String(), "}\n"), "one line of JSON")
		})
	}
}

func TestRunAsATaskCountsItsURL(t *testing.T) {
	site := hrefSite(t).URL
	args := []string{"-timeout", "10s", "ftp://not-this/", site + "/page", site + "/missing"}
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run(args, taskEnv("1", "3"), &stdout, &stderr), stderr.String())
	var got links.Counts
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
	assert.Equal(t, links.Counts{URL: site + "/page", Internal: 2, External: 1}, got)

	stdout.Reset()
	assert.Equal(t, exitHTTP, run(args, taskEnv("2", "3"), &stdout, &stderr))
	assert.Empty(t, stdout.String())
}

func TestPickURL(t *testing.T) {
	urls := []string{"http://a/", "http://b/"}
	cases := []struct {
		name         string
		urls         []string
		index, count string
		want, err    string
	}{
		{name: "one URL", urls: urls[:1], want: "http://a/"},
		{name: "one URL, task 0 of 1", urls: urls[:1], index: "0", count: "1", want: "http://a/"},
		{name: "task 1 of 2", urls: urls, index: "1", count: "2", want: "http://b/"},
		{name: "an index without a count", urls: urls, index: "0", want: "http://a/"},
		{name: "no URL", err: "no URL given"},
		{name: "two URLs, no index", urls: urls, err: "2 URLs given, and no ONESHOT_TASK_INDEX"},
		{name: "index beyond the list", urls: urls, index: "2", count: "3", err: "ONESHOT_TASK_INDEX=2: want an index of the 2 URLs"},
		{name: "negative index", urls: urls, index: "-1", err: "want an index"},
		{name: "index not a number", urls: urls, index: "x", err: "want an index"},
		{name: "count not the list's", urls: urls, index: "0", count: "3", err: "ONESHOT_TASK_COUNT=3, but 2 URLs given"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickURL(tc.urls, taskEnv(tc.index, tc.count))
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
