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
			code := run(tc.args, &stdout, &stderr)
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
