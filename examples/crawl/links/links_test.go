package links

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCount(t *testing.T) {
	cases := []struct {
		name               string
		page, html         string
		internal, external int
	}{
		{name: "none", page: "http://site/", html: "<p>no links</p>"},
		{name: "empty page", page: "http://site/", html: ""},
		{name: "relative and absolute", page: "http://site/a/", html: `<a href="b.html">b</a><a href="/c">c</a><a href="../d">d</a><a href="?q=1">q</a><a href="http://site/e">e</a><a href="https://other.org/">o</a>`, internal: 5, external: 1},
		{name: "same host, other scheme, port or case", page: "http://Site/", html: `<a href="https://site/x">x</a><a href="HTTP://SITE:8080/y">y</a>`, internal: 2},
		{name: "subdomain is another site", page: "http://site/", html: `<a href="http://www.site/">w</a>`, external: 1},
		{name: "fragments", page: "http://site/p", html: `<a href="#top">only a fragment: ignored</a><a href="other#part">another page: counted</a><a href="http://o/#x">x</a>`, internal: 1, external: 1},
		{name: "ignored schemes and empty", page: "http://site/", html: `<a href="mailto:a@b">m</a><a href="javascript:void(0)">j</a><a href="JavaScript:go()">J</a><a href="tel:1">p</a><a href="data:text/plain,x">d</a><a href="ftp://site/f">f</a><a>no href</a><a href="  ">blank</a>`},
		{name: "base href", page: "http://site/", html: `<base href="http://cdn.example/"><a href="x">x</a><a href="http://site/y">y</a>`, internal: 1, external: 1},
		{name: "relative base", page: "http://site/a/b", html: `<base href="/docs/"><a href="x">x</a>`, internal: 1},
		{name: "only the first base counts", page: "http://site/", html: `<base href="http://one/"><base href="http://two/"><a href="x">x</a>`, external: 1},
		{name: "base without href", page: "http://site/", html: `<base target="_blank"><base href="http://cdn/"><a href="x">x</a>`, external: 1},
		{name: "protocol-relative", page: "https://site/", html: `<a href="//site/x">x</a><a href="//other/y">y</a>`, internal: 1, external: 1},
		{name: "other tags with href are not links", page: "http://site/", html: `<link href="/style.css"><area href="/map"><div href="/d"></div>`},
		{name: "upper-case tags and attributes", page: "http://site/", html: `<A HREF="/x">x</A><A Href="http://o/">o</A>`, internal: 1, external: 1},
		{name: "self-closing and unquoted", page: "http://site/", html: `<a href=/x /><a href=http://o/>o</a>`, internal: 1, external: 1},
		{name: "broken html", page: "http://site/", html: `<a href="/x">x<div><a href=http://o/>o`, internal: 1, external: 1},
		{name: "links in comments and scripts do not count", page: "http://site/", html: `<!-- <a href="/c">c</a> --><script>document.write('<a href="/s">s</a>')</script><a href="/x">x</a>`, internal: 1},
		{name: "unparsable href", page: "http://site/", html: `<a href="http://[::1">bad</a><a href="/ok">ok</a>`, internal: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page, err := url.Parse(tc.page)
			require.NoError(t, err)
			internal, external, err := Count(page, strings.NewReader(tc.html))
			require.NoError(t, err)
			assert.Equal(t, tc.internal, internal, "internal")
			assert.Equal(t, tc.external, external, "external")
		})
	}
}

func TestCountReturnsReadErrors(t *testing.T) {
	page, _ := url.Parse("http://site/")
	_, _, err := Count(page, iotest.ErrReader(iotest.ErrTimeout))
	assert.ErrorIs(t, err, iotest.ErrTimeout)
}

// TestCountDemoSite checks the counts of the pages in ../site, which the
// integration test and site.sh serve, as the README shows them.
func TestCountDemoSite(t *testing.T) {
	want := map[string][2]int{
		"index.html":      {4, 2},
		"about.html":      {1, 3},
		"team.html":       {1, 1},
		"empty.html":      {0, 0},
		"docs/index.html": {2, 1},
	}
	for file, counts := range want {
		body, err := os.ReadFile(filepath.Join("..", "site", file))
		require.NoError(t, err)
		page, _ := url.Parse("http://crawl-demo/" + file)
		internal, external, err := Count(page, bytes.NewReader(body))
		require.NoError(t, err)
		assert.Equal(t, counts, [2]int{internal, external}, file)
	}
}
