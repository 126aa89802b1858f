// Package integration tests oneshot against real swarms: the local engine's
// single-node swarm (fast; most tests) and a 3-node Docker-in-Docker swarm
// (multi-node behaviour). The images the tests run are built locally by
// scripts/build-images.sh (`make images`); no registry is needed.
package integration

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// jobkitImage is the test job image (internal/jobkit), built locally.
const jobkitImage = "oneshot-jobkit:dev"

var (
	localOnce   sync.Once
	localShared *oneshot.Runner
	localClient *client.Client
	localErr    error
)

// localRunner returns a Runner on the local engine's swarm, shared by the
// tests of the package run as a real program would share one.
func localRunner(t testing.TB) *oneshot.Runner {
	t.Helper()
	localOnce.Do(func() {
		localClient, localErr = client.New(client.FromEnv)
		if localErr != nil {
			return
		}
		localShared, localErr = oneshot.NewRunner(oneshot.WithClient(localClient), oneshot.WithLogger(testLogger()))
	})
	require.NoError(t, localErr, "make a Runner on the local engine (is Docker running? `make swarm` makes it a swarm manager)")
	return localShared
}

// testLogger is the logger of the tests' Runners: their warnings (a
// service left behind, a lease that could not be dropped) go to stderr,
// and everything they do with ONESHOT_TEST_DEBUG set.
func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("ONESHOT_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// localDocker returns the raw Docker client of the local engine, for test
// set-up and for checking what is left on the swarm.
func localDocker(t testing.TB) *client.Client {
	t.Helper()
	localRunner(t)
	return localClient
}

// testRunID tells this run of the tests from any other on the same engine
// at the same time (a CI run beside a developer's): each test's label
// holds it, so that a test checks only what it made itself.
var testRunID = randomSuffix()

// testLabelValue is the value of the test's label, oneshot-test: its name
// and this run's ID.
func testLabelValue(t testing.TB) string { return t.Name() + "@" + testRunID }

// testLabelPair is the test's label as KEY=VALUE, for filters and the
// CLI's --label.
func testLabelPair(t testing.TB) string { return "oneshot-test=" + testLabelValue(t) }

// testLabel returns a label that marks the services of one test, so that
// tests running in parallel check only their own leftovers.
func testLabel(t testing.TB) oneshot.Option {
	return oneshot.WithLabel("oneshot-test", testLabelValue(t))
}

// requireNothingLeft fails the test if a service it created (found by
// testLabel) is still on the swarm once the test ends (Wait removes a job's
// service before it returns, so the check does not wait), or if its
// containers are still on the engine a few seconds later.
func requireNothingLeft(t testing.TB) {
	t.Helper()
	cli := localDocker(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		list, err := cli.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", testLabelPair(t))})
		require.NoError(t, err)
		var left []string
		for _, s := range list.Items {
			left = append(left, describeService(ctx, cli, s))
			_, _ = cli.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{})
		}
		require.Empty(t, left, "services left on the swarm by %s", t.Name())
		// The swarm removes a service's containers a moment after the service.
		require.Eventually(t, func() bool {
			left, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", testLabelPair(t))})
			return err == nil && len(left.Items) == 0
		}, 8*time.Second, 100*time.Millisecond, "containers left on the engine by %s", t.Name())
	})
}

// describeService says what a service left behind was doing, for the
// message of a test that finds it: when it was made and last changed, the
// leases on it, and its tasks.
func describeService(ctx context.Context, cli *client.Client, s swarm.Service) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (created %s, updated %s, version %d)", s.Spec.Name,
		s.CreatedAt.Format(time.StampMilli), s.UpdatedAt.Format(time.StampMilli), s.Version.Index)
	for k, v := range s.Spec.Labels {
		if strings.HasPrefix(k, "oneshot.") && k != oneshot.LabelCreated {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	tasks, err := cli.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", s.ID)})
	if err != nil {
		return b.String() + "; tasks: " + err.Error()
	}
	for _, task := range tasks.Items {
		fmt.Fprintf(&b, "; task %s %s (desired %s, at %s, exit %d) %s", task.ID, task.Status.State, task.DesiredState,
			task.Status.Timestamp.Format(time.StampMilli), exitCodeOf(task), task.Status.Err)
	}
	for _, line := range engineLogLines(s.ID, s.Spec.Name) {
		b.WriteString("\n    engine: " + line)
	}
	return b.String()
}

// engineLogLines are the last lines of the local engine's log (where the
// project's scripts start it: /var/log/dockerd.log, or
// $ONESHOT_ENGINE_LOG) that name the service, if it can be read: what
// the engine said of a service left behind.
func engineLogLines(id, name string) []string {
	path := cmp.Or(os.Getenv("ONESHOT_ENGINE_LOG"), "/var/log/dockerd.log")
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	scan := bufio.NewScanner(f)
	scan.Buffer(make([]byte, 64*1024), 1024*1024)
	for scan.Scan() {
		if line := scan.Text(); strings.Contains(line, id) || strings.Contains(line, name) {
			lines = append(lines, line[:min(len(line), 400)])
		}
	}
	return lines[max(0, len(lines)-8):]
}

func exitCodeOf(task swarm.Task) int {
	if task.Status.ContainerStatus == nil {
		return -1
	}
	return task.Status.ContainerStatus.ExitCode
}

// inParallel runs fn n times at once, with the run's index, and returns
// the errors joined.
func inParallel(n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
