package fanout

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var tableRows = []Row{
	{URL: "http://site/index.html", Internal: 3, External: 12, Status: "ok", OK: true, Ran: true},
	{URL: "http://site/missing.html", Status: "exit 3", Detail: "GET http://site/missing.html: 404 Not Found", Ran: true},
	{URL: "http://site/a.html", Internal: 1, Status: "ok", OK: true, Ran: true, Detail: "remove service: gone"},
	{URL: "http://site/b.html", Status: "image not found"},
}

func TestPrintTable(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, PrintTable(&out, tableRows))
	assert.Equal(t, ""+
		"URL                       INTERNAL  EXTERNAL  STATUS\n"+
		"http://site/index.html    3         12        ok\n"+
		"http://site/missing.html  0         0         exit 3\n"+
		"http://site/a.html        1         0         ok\n"+
		"http://site/b.html        0         0         image not found\n"+
		"TOTAL                     4         12        2/4 ok\n", out.String())
}

func TestPrintDetails(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, PrintDetails(&out, tableRows))
	assert.Equal(t, ""+
		"crawl: http://site/missing.html: exit 3: GET http://site/missing.html: 404 Not Found\n"+
		"crawl: http://site/a.html: ok: remove service: gone\n"+
		"crawl: http://site/b.html: image not found\n", out.String())
}

func TestPrintJSON(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, PrintJSON(&out, tableRows[:2]))
	assert.JSONEq(t, `{
		"rows": [
			{"url": "http://site/index.html", "internal": 3, "external": 12, "status": "ok", "ok": true, "ran": true},
			{"url": "http://site/missing.html", "internal": 0, "external": 0, "status": "exit 3",
			 "detail": "GET http://site/missing.html: 404 Not Found", "ok": false, "ran": true}
		],
		"totals": {"internal": 3, "external": 12, "ok": 1, "pages": 2}
	}`, out.String())

	out.Reset()
	require.NoError(t, PrintJSON(&out, nil))
	assert.JSONEq(t, `{"rows": [], "totals": {"internal": 0, "external": 0, "ok": 0, "pages": 0}}`, out.String())
}
