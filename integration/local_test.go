// Package integration tests oneshot against real swarms: the local engine's
// single-node swarm (fast; most tests) and a 3-node Docker-in-Docker swarm
// (multi-node behaviour). The images the tests run are built locally by
// scripts/build-images.sh (`make images`); no registry is needed.
package integration

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

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
		var opts []oneshot.RunnerOption
		opts = append(opts, oneshot.WithClient(localClient))
		if os.Getenv("ONESHOT_TEST_DEBUG") != "" {
			opts = append(opts, oneshot.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		}
		localShared, localErr = oneshot.NewRunner(opts...)
	})
	require.NoError(t, localErr, "make a Runner on the local engine (is Docker running? `make swarm` makes it a swarm manager)")
	return localShared
}

// localDocker returns the raw Docker client of the local engine, for test
// set-up and for checking what is left on the swarm.
func localDocker(t testing.TB) *client.Client {
	t.Helper()
	localRunner(t)
	return localClient
}

// testLabel returns a label that marks the services of one test, so that
// tests running in parallel check only their own leftovers.
func testLabel(t testing.TB) oneshot.Option {
	return oneshot.WithLabel("oneshot-test", t.Name())
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
		list, err := cli.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "oneshot-test="+t.Name())})
		require.NoError(t, err)
		var names []string
		for _, s := range list.Items {
			names = append(names, s.Spec.Name)
			_, _ = cli.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{})
		}
		require.Empty(t, names, "services left on the swarm by %s", t.Name())
		// The swarm removes a service's containers a moment after the service.
		require.Eventually(t, func() bool {
			left, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "oneshot-test="+t.Name())})
			return err == nil && len(left.Items) == 0
		}, 8*time.Second, 100*time.Millisecond, "containers left on the engine by %s", t.Name())
	})
}
