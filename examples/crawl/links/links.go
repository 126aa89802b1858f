// Package links counts a page's links to its own site and to other sites.
// The hrefcounter job uses it, and the crawl command decodes its output.
package links

import (
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Counts is one page's result, as hrefcounter prints it on stdout.
type Counts struct {
	URL      string `json:"url"`
	Internal int    `json:"internal"`
	External int    `json:"external"`
}

// Count parses the HTML page found at page and counts its <a href> links:
// internal when they lead to page's host (the host name, whatever the scheme
// or port; relative links included, resolved against the first <base href>
// when there is one), external otherwise. Links to a fragment of the page
// itself ("#top"), and links that are not http(s) (mailto:, javascript:,
// tel:, data:...) are not counted. HTML that is not well formed is read the
// way a browser would; only a read error is returned.
func Count(page *url.URL, body io.Reader) (internal, external int, err error) {
	base, baseSet := page, false
	z := html.NewTokenizer(body)
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() == io.EOF {
				return internal, external, nil
			}
			return internal, external, z.Err()
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			href, ok := attr(tok, "href")
			switch {
			case !ok:
			case tok.Data == "base" && !baseSet:
				base, baseSet = resolveBase(page, href), true
			case tok.Data == "a":
				switch classify(base, page, href) {
				case linkInternal:
					internal++
				case linkExternal:
					external++
				}
			}
		}
	}
}

// resolveBase returns the base URL that <base href> sets, or page itself
// when href cannot be parsed.
func resolveBase(page *url.URL, href string) *url.URL {
	b, err := page.Parse(strings.TrimSpace(href))
	if err != nil {
		return page
	}
	return b
}

// linkKind is how Count counts one link.
type linkKind int

const (
	linkIgnored linkKind = iota
	linkInternal
	linkExternal
)

// classify resolves href against base and says whether it leads to page's
// host, to another host, or is not counted.
func classify(base, page *url.URL, href string) linkKind {
	href = strings.TrimSpace(href)
	if href == "" || strings.HasPrefix(href, "#") {
		return linkIgnored
	}
	target, err := base.Parse(href)
	if err != nil {
		return linkIgnored
	}
	switch strings.ToLower(target.Scheme) {
	case "http", "https":
	default:
		return linkIgnored // mailto:, javascript:, tel:, data:...
	}
	if strings.EqualFold(target.Hostname(), page.Hostname()) {
		return linkInternal
	}
	return linkExternal
}

// attr returns the value of the tag's attribute name, if it has one.
func attr(tok html.Token, name string) (string, bool) {
	for _, a := range tok.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}
