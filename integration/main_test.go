package integration

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// TestMain tears the shared DinD swarm down after the tests, whatever they
// did, and fails the run if anything of it is left on the host engine.
// Ryuk (testcontainers' reaper) cannot be used here.
func TestMain(m *testing.M) {
	defaultTestcontainersEnv()
	stop := teardownDinDOnSignal()
	code := m.Run()
	stop()
	if err := teardownSharedDinD(); err != nil {
		fmt.Fprintf(os.Stderr, "dind: teardown: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// defaultTestcontainersEnv sets what testcontainers-go needs on these
// machines unless the caller set it: no Ryuk (its image cannot be pulled;
// the tests remove what they start), and containers reached on 127.0.0.1
// (the tests talk to the nodes' loopback ports; without the override
// testcontainers sees /.dockerenv and looks for a gateway instead).
func defaultTestcontainersEnv() {
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	if _, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !ok {
		if h := os.Getenv("DOCKER_HOST"); h == "" || strings.HasPrefix(h, "unix://") {
			os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
		}
	}
}

// teardownDinDOnSignal removes the DinD swarm's containers and network
// when the test process is interrupted (Ctrl-C, or a CI runner's SIGTERM)
// and then exits; without a swarm the signal does what it did before.
// stop ends the watch.
func teardownDinDOnSignal() (stop func()) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-signals:
			signal.Stop(signals)
			if run := dindRunID.Load(); run != nil {
				fmt.Fprintf(os.Stderr, "dind: %v: removing %s\n", sig, *run)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if host, err := client.New(client.FromEnv); err == nil {
					_, _ = removeDinDRun(ctx, host, *run)
				}
				cancel()
			}
			_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
		case <-done:
		}
	}()
	return func() {
		signal.Stop(signals)
		close(done)
	}
}
