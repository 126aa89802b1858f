package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/crawl/fanout"
)

// crawlSiteDir holds the pages the test's web server serves.
const crawlSiteDir = "../examples/crawl/site"

// crawlCounts are the links of each page of crawlSiteDir: to its own site,
// and to others (examples/crawl/links checks them without Docker).
var crawlCounts = map[string][2]int{
	"index.html":      {4, 2},
	"about.html":      {1, 3},
	"team.html":       {1, 1},
	"empty.html":      {0, 0},
	"docs/index.html": {2, 1},
}

// TestCrawl serves the pages of examples/crawl/site from a web server
// service on an overlay network of the local swarm, and crawls them.
func TestCrawl(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
	site := crawlStartSite(t, ctx)
	t.Run("counts", func(t *testing.T) { crawlChecksCounts(t, ctx, site) })
	t.Run("command", func(t *testing.T) { crawlRunsTheCommand(t, ctx, site) })
	t.Run("no job can run", func(t *testing.T) { crawlExits125WhenNoJobRuns(t, ctx, site) })
	t.Run("interrupted", func(t *testing.T) { crawlInterruptedLeavesNothing(t, ctx, site) })
	t.Run("one at a time", func(t *testing.T) { crawlOneAtATime(t, ctx, site) })
	t.Run("twenty pages", func(t *testing.T) { crawlTwentyPages(t, ctx, site) })
}

// crawlChecksCounts crawls every page, a missing one (404: exit 3), a port
// nothing listens on (exit 2) and a URL that is not http, in process
// through the tests' shared Runner: one job, of a task per http URL.
func crawlChecksCounts(t *testing.T, ctx context.Context, site string) {
	requireNothingLeft(t)
	var urls []string
	for page := range crawlCounts {
		urls = append(urls, "http://"+site+"/"+page)
	}
	urls = append(urls, "http://"+site+"/missing.html", "http://"+site+":81/", "ftp://"+site+"/")
	r := &crawlRunner{runner: localRunner(t)}
	rows := fanout.Crawl(ctx, r, crawlConfig(t, site), urls, 4)
	assert.Equal(t, []int{len(urls) - 1}, r.tasks, "one job, of a task per http URL")
	for _, r := range rows[:len(crawlCounts)] {
		want := crawlCounts[strings.TrimPrefix(r.URL, "http://"+site+"/")]
		assert.Equal(t, fanout.Row{URL: r.URL, Internal: want[0], External: want[1], Status: "ok", OK: true, Ran: true}, r)
	}
	missing, refused, notHTTP := rows[len(rows)-3], rows[len(rows)-2], rows[len(rows)-1]
	assert.Equal(t, "exit 3", missing.Status)
	assert.Contains(t, missing.Detail, "404 Not Found")
	assert.True(t, missing.Ran)
	assert.Equal(t, "exit 2", refused.Status)
	assert.Contains(t, refused.Detail, "connection refused")
	assert.Equal(t, "bad url", notHTTP.Status)
	assert.False(t, notHTTP.Ran)
	assert.Equal(t, fanout.ExitSomeFailed, fanout.ExitCode(rows))
}

// crawlRunsTheCommand runs the crawl binary: its table, its explanations
// on stderr, its exit code.
func crawlRunsTheCommand(t *testing.T, ctx context.Context, site string) {
	requireNothingLeft(t)
	stdout, stderr, code := runProgram(t, exec.CommandContext(ctx, exampleBinary(t, "../examples/crawl"),
		"-network", site, "-label", testLabelPair(t), "-parallel", "3", "-timeout", "1m",
		"http://"+site+"/index.html", "http://"+site+"/about.html", "http://"+site+"/missing.html", "http://"+site+":81/"))
	t.Logf("crawl printed:\n%s%s", stdout, stderr)
	assert.Equal(t, fanout.ExitSomeFailed, code)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 6, stdout)
	assert.Regexp(t, `^URL\s+INTERNAL\s+EXTERNAL\s+STATUS$`, lines[0])
	assert.Regexp(t, `^http://\S+/index.html\s+4\s+2\s+ok$`, lines[1])
	assert.Regexp(t, `^http://\S+/about.html\s+1\s+3\s+ok$`, lines[2])
	assert.Regexp(t, `^http://\S+/missing.html\s+0\s+0\s+exit 3$`, lines[3])
	assert.Regexp(t, `^http://\S+:81/\s+0\s+0\s+exit 2$`, lines[4])
	assert.Regexp(t, `^TOTAL\s+5\s+5\s+2/4 ok$`, lines[5])
	assert.Contains(t, stderr, "missing.html: exit 3: hrefcounter: GET http://"+site+"/missing.html: 404 Not Found")
	assert.Contains(t, stderr, ":81/: exit 2: hrefcounter: ")
}

// crawlExits125WhenNoJobRuns gives the command an image no node has, and
// reads its -json report.
func crawlExits125WhenNoJobRuns(t *testing.T, ctx context.Context, site string) {
	requireNothingLeft(t)
	stdout, stderr, code := runProgram(t, exec.CommandContext(ctx, exampleBinary(t, "../examples/crawl"),
		"-network", site, "-label", testLabelPair(t), "-image", "oneshot-no-such-image:dev", "-json",
		"http://"+site+"/index.html", "http://"+site+"/about.html"))
	t.Logf("crawl printed:\n%s%s", stdout, stderr)
	assert.Equal(t, fanout.ExitNoneRan, code)
	var report struct {
		Rows   []fanout.Row
		Totals fanout.Totals
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &report), stdout)
	require.Len(t, report.Rows, 2)
	for _, r := range report.Rows {
		assert.Equal(t, "image not found", r.Status, r.URL)
		assert.Contains(t, r.Detail, "oneshot-no-such-image:dev", r.URL)
		assert.False(t, r.Ran || r.OK, r.URL)
	}
	assert.Equal(t, fanout.Totals{Pages: 2}, report.Totals)
	assert.Contains(t, stderr, "oneshot-no-such-image:dev")
}

// crawlInterruptedLeavesNothing sends SIGINT to the command while its jobs
// run: it exits 130, and requireNothingLeft checks that their services are
// gone.
func crawlInterruptedLeavesNothing(t *testing.T, ctx context.Context, site string) {
	requireNothingLeft(t)
	args := []string{"-network", site, "-label", testLabelPair(t), "-parallel", "2"}
	for i := range 6 {
		args = append(args, fmt.Sprintf("http://%s/index.html?n=%d", site, i))
	}
	var stdout, stderr strings.Builder
	cmd := exec.CommandContext(ctx, exampleBinary(t, "../examples/crawl"), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	cli := localDocker(t)
	require.Eventually(t, func() bool {
		list, err := cli.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", testLabelPair(t))})
		return err == nil && len(list.Items) > 0
	}, time.Minute, 20*time.Millisecond, "a job of crawl on the swarm")
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	t.Logf("crawl printed:\n%s%s", stdout.String(), stderr.String())
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 130, exitErr.ExitCode())
	assert.Contains(t, stdout.String(), "canceled")
}

// crawlOneAtATime crawls three pages with -parallel 1: one job whose tasks
// run one after the other.
func crawlOneAtATime(t *testing.T, ctx context.Context, site string) {
	requireNothingLeft(t)
	var urls []string
	for i := range 3 {
		urls = append(urls, fmt.Sprintf("http://%s/index.html?n=%d", site, i))
	}
	rows := fanout.Crawl(ctx, localRunner(t), crawlConfig(t, site), urls, 1)
	for _, r := range rows {
		assert.Equal(t, fanout.Row{URL: r.URL, Internal: 4, External: 2, Status: "ok", OK: true, Ran: true}, r)
	}
}

// crawlTwentyPages crawls 20 URLs with -parallel 8 through one Runner:
// every row right, and the time it took in the log (make bench measures
// speed; this checks the fan-out).
func crawlTwentyPages(t *testing.T, ctx context.Context, site string) {
	requireNothingLeft(t)
	var urls []string
	for i := range 20 {
		urls = append(urls, fmt.Sprintf("http://%s/index.html?n=%d", site, i))
	}
	start := time.Now()
	rows := fanout.Crawl(ctx, localRunner(t), crawlConfig(t, site), urls, 8)
	t.Logf("20 pages, one job of 20 tasks with -parallel 8: %v", time.Since(start).Round(10*time.Millisecond))
	require.Equal(t, fanout.ExitAllOK, fanout.ExitCode(rows), "%+v", rows)
	for _, r := range rows {
		assert.Equal(t, fanout.Row{URL: r.URL, Internal: 4, External: 2, Status: "ok", OK: true, Ran: true}, r)
	}
}

// crawlConfig is the crawl's jobs on the tests' Runner: attached to the
// site's network and labelled for requireNothingLeft.
func crawlConfig(t *testing.T, site string) fanout.JobConfig {
	return fanout.JobConfig{Networks: []string{site}, Timeout: time.Minute, Options: []oneshot.Option{testLabel(t)}}
}

// crawlRunner runs the crawl's jobs on runner and notes the tasks of each.
type crawlRunner struct {
	runner *oneshot.Runner
	tasks  []int
}

// Run runs the job and notes its count of tasks.
func (c *crawlRunner) Run(ctx context.Context, spec oneshot.JobSpec, opts ...oneshot.Option) (*oneshot.Result, error) {
	c.tasks = append(c.tasks, spec.Tasks)
	return c.runner.Run(ctx, spec, opts...)
}

// crawlStartSite creates an attachable overlay network and, on it, a web
// server service (jobkit serve, endpoint mode dnsrr: no IP_VS here) that
// serves crawlSiteDir from swarm configs, all named alike, and waits until
// it answers. It returns that name, the site's host name on the network.
func crawlStartSite(t *testing.T, ctx context.Context) string {
	cli := localDocker(t)
	name := "oneshot-test-crawl-" + randomSuffix()
	net, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "overlay", Attachable: true})
	require.NoError(t, err)
	t.Cleanup(func() { removeNetworkEventually(t, net.ID) })
	server := startService(t, ctx, swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: jobkitImage, Args: []string{"serve", ":80", "/site"}, Configs: crawlSiteConfigs(t, ctx, name)},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: net.ID}},
		},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	})
	waitServiceRunning(t, ctx, server)
	crawlWaitServing(t, ctx, name)
	return name
}

// crawlSiteConfigs makes a swarm config of each page of crawlSiteDir, named
// prefix and the page's path, and returns their references under /site.
func crawlSiteConfigs(t *testing.T, ctx context.Context, prefix string) []*swarm.ConfigReference {
	cli := localDocker(t)
	var refs []*swarm.ConfigReference
	for page := range crawlCounts {
		body, err := os.ReadFile(filepath.Join(crawlSiteDir, page))
		require.NoError(t, err)
		name := prefix + "-" + strings.ReplaceAll(page, "/", "-")
		cfg, err := cli.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name}, Data: body}})
		require.NoError(t, err)
		t.Cleanup(func() { removeConfigEventually(t, cfg.ID) })
		refs = append(refs, &swarm.ConfigReference{ConfigID: cfg.ID, ConfigName: name,
			File: &swarm.ConfigReferenceFileTarget{Name: "/site/" + page, UID: "0", GID: "0", Mode: 0o444}})
	}
	return refs
}

// crawlWaitServing counts the site's index with a job until the server
// answers: a running task may not be listening yet.
func crawlWaitServing(t *testing.T, ctx context.Context, site string) {
	var last fanout.Row
	for range 10 {
		if last = fanout.Crawl(ctx, localRunner(t), crawlConfig(t, site), []string{"http://" + site + "/"}, 1)[0]; last.OK {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Fail(t, "the site does not answer", "%+v", last)
}
