package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/crawl/fanout"
)

func TestParseArgs(t *testing.T) {
	var stderr bytes.Buffer
	cfg, _, ok := parseArgs([]string{"-parallel", "3", "--network", "web", "-network", "back", "--timeout", "5s",
		"-label", "team=seo", "-json", "-f", "urls.txt", "http://a/", "http://b/"}, &stderr)
	require.True(t, ok, stderr.String())
	assert.Equal(t, 3, cfg.parallel)
	assert.True(t, cfg.json)
	assert.Equal(t, "urls.txt", cfg.file)
	assert.Equal(t, []string{"http://a/", "http://b/"}, cfg.urls)
	assert.Equal(t, []string{"web", "back"}, cfg.job.Networks)
	assert.Equal(t, 5*time.Second, cfg.job.Timeout)
	assert.Equal(t, fanout.DefaultImage, cfg.job.Image)
	var spec oneshot.JobSpec
	for _, opt := range cfg.job.Options {
		require.NoError(t, opt(&spec))
	}
	assert.Equal(t, map[string]string{"team": "seo"}, spec.Labels)
}

func TestParseArgsDefaults(t *testing.T) {
	cfg, _, ok := parseArgs([]string{"http://a/"}, &bytes.Buffer{})
	require.True(t, ok)
	assert.Equal(t, 8, cfg.parallel)
	assert.Equal(t, time.Minute, cfg.job.Timeout)
	assert.Empty(t, cfg.job.Networks)
}

func TestParseArgsRefuses(t *testing.T) {
	for _, args := range [][]string{{"-parallel", "0"}, {"-label", "novalue"}, {"-label", "=v"}, {"-nosuchflag"}, {"-timeout", "soon"}} {
		var stderr bytes.Buffer
		_, code, ok := parseArgs(args, &stderr)
		assert.False(t, ok, args)
		assert.Equal(t, fanout.ExitNoneRan, code, args)
		assert.NotEmpty(t, stderr.String(), args)
	}
}

func TestParseArgsHelp(t *testing.T) {
	var stderr bytes.Buffer
	_, code, ok := parseArgs([]string{"-h"}, &stderr)
	assert.False(t, ok)
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr.String(), "Examples:")
	assert.Contains(t, stderr.String(), "-parallel")
}

func TestReadURLs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "urls.txt")
	require.NoError(t, os.WriteFile(file, []byte("# pages\nhttp://c/\n\n  http://d/  \n"), 0o600))
	urls, err := readURLs(file, []string{"http://a/"}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"http://a/", "http://c/", "http://d/"}, urls)

	urls, err = readURLs("-", nil, strings.NewReader("http://e/\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"http://e/"}, urls)

	_, err = readURLs(filepath.Join(t.TempDir(), "none.txt"), nil, nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = readURLs("", nil, nil)
	assert.ErrorContains(t, err, "no URL given")
}

func TestRunRefusesNoURLsWith125(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, fanout.ExitNoneRan, run(context.Background(), nil, nil, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "no URL given")
	assert.Empty(t, stdout.String())
}

// pageRunner runs a job of a task per page as the swarm would: a URL
// ending in /b exits 3, the others count 2 internal and 1 external links.
// answered, when set, is called before it answers.
type pageRunner struct{ answered func() }

func (p pageRunner) Run(_ context.Context, spec oneshot.JobSpec, _ ...oneshot.Option) (*oneshot.Result, error) {
	if p.answered != nil {
		p.answered()
	}
	res := &oneshot.Result{}
	for i, u := range spec.Command[2:] { // after -timeout D
		t := oneshot.TaskResult{Index: i, State: oneshot.StateComplete, Stdout: []byte(`{"internal":2,"external":1}`)}
		if strings.HasSuffix(u, "/b/") {
			t = oneshot.TaskResult{Index: i, State: oneshot.StateFailed, ExitCode: 3,
				Err: &oneshot.ExitError{Result: &oneshot.Result{ExitCode: 3}, Stderr: []byte("404 Not Found\n")}}
		}
		res.Tasks = append(res.Tasks, t)
	}
	return res, nil
}

func TestCrawlPrintsTableAndDetails(t *testing.T) {
	cfg, _, ok := parseArgs([]string{"-parallel", "2"}, &bytes.Buffer{})
	require.True(t, ok)
	var stdout, stderr bytes.Buffer
	code := crawl(context.Background(), pageRunner{}, cfg, []string{"http://a/", "http://b/"}, fanout.PrintTable, &stdout, &stderr)
	assert.Equal(t, fanout.ExitSomeFailed, code)
	assert.Equal(t, ""+
		"URL        INTERNAL  EXTERNAL  STATUS\n"+
		"http://a/  2         1         ok\n"+
		"http://b/  0         0         exit 3\n"+
		"TOTAL      2         1         1/2 ok\n", stdout.String())
	assert.Equal(t, "crawl: http://b/: exit 3: 404 Not Found\n", stderr.String())
}

func TestCrawlInterruptedExits130(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg, _, ok := parseArgs(nil, &bytes.Buffer{})
	require.True(t, ok)
	urls := make([]string, fanout.MaxPagesPerJob+1)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://a/%d", i)
	}
	var stdout, stderr bytes.Buffer
	code := crawl(ctx, pageRunner{answered: cancel}, cfg, urls, fanout.PrintTable, &stdout, &stderr)
	assert.Equal(t, exitInterrupted, code)
	assert.Contains(t, stdout.String(), fmt.Sprintf("%d/%d ok", fanout.MaxPagesPerJob, len(urls)))
	assert.Contains(t, stderr.String(), fmt.Sprintf("crawl: http://a/%d: canceled: not started", fanout.MaxPagesPerJob))
}
