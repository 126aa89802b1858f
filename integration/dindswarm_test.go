package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/oneshot-go/oneshot"
)

// A swarm of Docker-in-Docker nodes (1 manager and, by default, 2 workers)
// with two registries (one open, one behind basic auth) on a private bridge
// network, started with testcontainers-go once per test run and shared by
// the multi-node tests; TestMain tears it down. No registry outside, no
// --privileged: the images are built offline from Debian's packages by
// integration/dind/build-node-image.sh and build-registry-image.sh
// (`make images`); ONESHOT_DIND_IMAGE and ONESHOT_REGISTRY_IMAGE name others.
// ONESHOT_DIND_ENGINE chooses the nodes' engine (see dindEngines).

// dindEngine is a Docker engine the test swarm's nodes can run: the
// docker.io package of a Debian suite, in the node image that
// integration/dind/build-node-image.sh SUITE builds.
type dindEngine struct {
	// name is the Debian suite: ONESHOT_DIND_ENGINE's value.
	name string
	// image is the node image build-node-image.sh builds for the suite.
	image string
	// version starts the version of the engine the suite packages (its
	// major and minor), also accepted as ONESHOT_DIND_ENGINE's value.
	version string
	// api is the engine's API version.
	api string
}

// dindEngines are the engines the test swarm runs, the oldest and the
// newest Docker that Debian packages here; the first is the default.
var dindEngines = []dindEngine{
	{name: "bookworm", image: "oneshot-dind:dev", version: "20.10", api: "1.41"},
	{name: "trixie", image: "oneshot-dind:trixie", version: "26.1", api: "1.45"},
}

// dindEngineEnv chooses the engine of the test swarm by its suite or its
// version: bookworm or 20.10 (the default), trixie or 26.1.
const dindEngineEnv = "ONESHOT_DIND_ENGINE"

// dindSelected is the engine the nodes run; dindSelectedErr says why
// ONESHOT_DIND_ENGINE names none (startDinD then fails). dindImageChosen
// says that ONESHOT_DIND_IMAGE was set by the caller: the nodes run that
// image, whatever engine it holds (dindNodeImage).
var (
	dindSelected, dindSelectedErr = selectDinDEngine(os.Getenv(dindEngineEnv))
	dindImageChosen               = os.Getenv("ONESHOT_DIND_IMAGE") != ""
)

// selectDinDEngine returns the engine that want (a suite or a version)
// names; empty means the default.
func selectDinDEngine(want string) (dindEngine, error) {
	if want == "" {
		return dindEngines[0], nil
	}
	var known []string
	for _, e := range dindEngines {
		if want == e.name || want == e.version {
			return e, nil
		}
		known = append(known, e.name+" ("+e.version+")")
	}
	return dindEngines[0], fmt.Errorf("%s=%s names no engine of the test swarm: %s", dindEngineEnv, want, strings.Join(known, ", "))
}

// buildCommand is the command that builds the engine's node image.
func (e dindEngine) buildCommand() string {
	if e == dindEngines[0] {
		return "integration/dind/build-node-image.sh"
	}
	return "integration/dind/build-node-image.sh " + e.name
}

// dindSwarm is the test swarm.
type dindSwarm struct {
	// run prefixes the names of everything the swarm is made of on the host
	// engine (oneshot-dind-XXXXXXXX); it is also the network's name.
	run string
	// host is the host engine's client.
	host     *client.Client
	tcLogger tclog.Logger

	manager *dindNode
	workers []*dindNode
	// registry is open; authRegistry asks for dindRegistryUser's password.
	registry, authRegistry *dindRegistry
	// jobImage is oneshot-jobkit:dev in registry, authJobImage in
	// authRegistry, both as the nodes name them.
	jobImage, authJobImage string

	// runner is a Runner on the manager, shared by the tests.
	runner *oneshot.Runner
	// setup is how long starting the swarm took; phases says where it went.
	setup  time.Duration
	phases []string
	// engineVersion and apiVersion are the manager's engine version and
	// its highest API version.
	engineVersion, apiVersion string
}

// Manager is the manager node: Manager().api is a client of its engine,
// Manager().Host() its address, for a Runner.
func (s *dindSwarm) Manager() *dindNode { return s.manager }

// nodes returns the manager and the workers.
func (s *dindSwarm) nodes() []*dindNode { return append([]*dindNode{s.manager}, s.workers...) }

func (s *dindSwarm) registries() []*dindRegistry { return []*dindRegistry{s.registry, s.authRegistry} }

// labels are the labels of everything the swarm creates on the host.
func (s *dindSwarm) labels() map[string]string {
	return map[string]string{labelDinDRun: s.run, labelDinDOwner: dindOwner()}
}

var (
	dindOnce   sync.Once
	dindShared *dindSwarm
	dindErr    error
	// dindRunID is the run of the shared swarm, set before anything of it
	// is created: what a signal handler removes.
	dindRunID atomic.Pointer[string]
)

// sharedDinD returns the shared test swarm (1 manager, 2 workers), starting
// it on first use.
func sharedDinD(t *testing.T) *dindSwarm {
	t.Helper()
	started := false
	dindOnce.Do(func() {
		started = true
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		host, err := client.New(client.FromEnv)
		if err != nil {
			dindErr = err
			return
		}
		dindShared, dindErr = startDinD(ctx, host, 2)
	})
	if dindErr != nil {
		t.Fatalf("start the DinD swarm: %v", dindErr)
	}
	if started {
		s := dindShared
		t.Logf("DinD swarm %s (%d nodes of Docker %s, API %s, 2 registries) set up in %s: %s", s.run, len(s.nodes()),
			s.engineVersion, s.apiVersion, s.setup.Round(10*time.Millisecond), strings.Join(s.phases, ", "))
	}
	return dindShared
}

// teardownSharedDinD removes the shared swarm, if it was started, and
// reports anything of it still on the host engine.
func teardownSharedDinD() error {
	if dindShared == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return dindShared.teardown(ctx)
}

// startDinD starts a swarm of 1 manager and the given number of workers.
// On error the swarm returned holds what was started, for teardown.
func startDinD(ctx context.Context, host *client.Client, workers int) (*dindSwarm, error) {
	start := time.Now()
	s := &dindSwarm{
		run:          "oneshot-dind-" + randomSuffix(),
		host:         host,
		tcLogger:     tclog.NewNoopLogger(),
		registry:     &dindRegistry{alias: "registry"},
		authRegistry: &dindRegistry{alias: "authregistry", auth: true},
	}
	if os.Getenv("ONESHOT_TEST_DEBUG") != "" {
		s.tcLogger = tclog.Default()
	}
	dindRunID.Store(&s.run)
	if dindSelectedErr != nil {
		return s, dindSelectedErr
	}
	if err := sweepDeadRuns(ctx, host); err != nil {
		fmt.Fprintf(os.Stderr, "dind: sweeping the runs of dead test processes: %v\n", err)
	}
	if err := s.checkImages(ctx); err != nil {
		return s, err
	}
	if _, err := host.NetworkCreate(ctx, s.run, client.NetworkCreateOptions{Driver: "bridge", Labels: s.labels()}); err != nil {
		return s, fmt.Errorf("create network %s: %w", s.run, err)
	}
	mark := time.Now()
	if err := s.startContainers(ctx, workers); err != nil {
		return s, err
	}
	s.phase("containers up", &mark)
	if err := s.checkEngine(ctx); err != nil {
		return s, err
	}
	// The swarm forms while the host pushes the job images.
	var pushErr error
	var pushTook time.Duration
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		pushStart := time.Now()
		pushErr = s.pushJobImages(ctx)
		pushTook = time.Since(pushStart)
	}()
	formErr := s.formSwarm(ctx)
	s.phase("swarm formed", &mark)
	<-pushed
	s.phase("push done", &mark)
	s.phases = append(s.phases, fmt.Sprintf("(the push, during the swarm's formation, took %s)", pushTook.Round(10*time.Millisecond)))
	if err := errors.Join(formErr, pushErr); err != nil {
		return s, err
	}
	var err error
	if s.runner, err = oneshot.NewRunner(oneshot.WithClient(s.manager.api)); err != nil {
		return s, err
	}
	s.setup = time.Since(start)
	return s, nil
}

// phase records how long the phase since *mark took.
func (s *dindSwarm) phase(name string, mark *time.Time) {
	s.phases = append(s.phases, fmt.Sprintf("%s +%s", name, time.Since(*mark).Round(10*time.Millisecond)))
	*mark = time.Now()
}

// checkImages fails early, with the command that builds it, when an image
// the swarm needs is not on the host engine (there is nowhere to pull from).
func (s *dindSwarm) checkImages(ctx context.Context) error {
	for img, build := range map[string]string{
		dindNodeImage():     dindSelected.buildCommand(),
		dindRegistryImage(): "integration/dind/build-registry-image.sh",
		jobkitImage:         "scripts/build-images.sh jobkit",
	} {
		if _, err := s.host.ImageInspect(ctx, img); cerrdefs.IsNotFound(err) {
			return fmt.Errorf("image %s is not on this engine: build it with %s (or `make images`)", img, build)
		} else if err != nil {
			return fmt.Errorf("inspect image %s: %w", img, err)
		}
	}
	return nil
}

// checkEngine records the manager's engine version and fails when it is
// not the selected engine's (a stale or mistagged image), unless the
// caller chose the image with ONESHOT_DIND_IMAGE.
func (s *dindSwarm) checkEngine(ctx context.Context) error {
	v, err := s.manager.api.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return fmt.Errorf("the manager's engine version: %w", err)
	}
	s.engineVersion, s.apiVersion = v.Version, v.APIVersion
	if !dindImageChosen && !strings.HasPrefix(v.Version, dindSelected.version+".") {
		return fmt.Errorf("%s runs Docker %s, not %s's %s: rebuild it with %s", dindNodeImage(), v.Version,
			dindSelected.name, dindSelected.version, dindSelected.buildCommand())
	}
	return nil
}

// startContainers starts the registries and the nodes, all at once.
func (s *dindSwarm) startContainers(ctx context.Context, workers int) error {
	s.manager = &dindNode{role: "manager"}
	for i := range workers {
		s.workers = append(s.workers, &dindNode{role: fmt.Sprintf("worker%d", i+1)})
	}
	var wg sync.WaitGroup
	errs := make([]error, 0, 2+1+workers)
	var mu sync.Mutex
	do := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	for _, r := range s.registries() {
		do(func() error { return s.startRegistry(ctx, r) })
	}
	for _, n := range s.nodes() {
		do(func() error { return s.startNode(ctx, n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// dindHeartbeat is the swarm's dispatcher heartbeat period: the manager
// marks a node down after a few missed heartbeats (~10-16 s with the
// default 5 s; 2.4-3.9 s measured with 1 s).
const dindHeartbeat = time.Second

// setHeartbeat sets the swarm's dispatcher heartbeat period; the agents
// take it up with their next heartbeat.
func (s *dindSwarm) setHeartbeat(ctx context.Context, period time.Duration) error {
	inspect, err := s.manager.api.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	spec := inspect.Swarm.Spec
	spec.Dispatcher.HeartbeatPeriod = period
	_, err = s.manager.api.SwarmUpdate(ctx, client.SwarmUpdateOptions{Version: inspect.Swarm.Version, Spec: spec})
	return err
}

// formSwarm makes the manager a swarm manager, advertising its IP on the
// network, with a dindHeartbeat dispatcher heartbeat, and joins the workers.
func (s *dindSwarm) formSwarm(ctx context.Context) error {
	ip, err := s.manager.container.ContainerIP(ctx)
	if err != nil {
		return err
	}
	spec := swarm.Spec{Dispatcher: swarm.DispatcherConfig{HeartbeatPeriod: dindHeartbeat}}
	if _, err := s.manager.api.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: ip, Spec: spec}); err != nil {
		return fmt.Errorf("swarm init: %w", err)
	}
	inspect, err := s.manager.api.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	for _, w := range s.workers {
		if _, err := w.api.SwarmJoin(ctx, client.SwarmJoinOptions{ListenAddr: "0.0.0.0:2377", RemoteAddrs: []string{ip + ":2377"}, JoinToken: inspect.Swarm.JoinTokens.Worker}); err != nil {
			return fmt.Errorf("join %s: %w", w.role, err)
		}
	}
	for _, n := range s.nodes() {
		info, err := n.api.Info(ctx, client.InfoOptions{})
		if err != nil {
			return err
		}
		n.nodeID = info.Info.Swarm.NodeID
	}
	return s.waitNodesReady(ctx)
}

// pushJobImages pushes the jobkit image into both registries.
func (s *dindSwarm) pushJobImages(ctx context.Context) error {
	var err error
	if s.jobImage, err = s.registry.push(ctx, s.host, jobkitImage, "oneshot-jobkit:dev"); err != nil {
		return err
	}
	s.authJobImage, err = s.authRegistry.push(ctx, s.host, jobkitImage, "oneshot-jobkit:private")
	return err
}

// waitNodesReady returns once the manager answers and sees every node
// ready, woken by its node events.
func (s *dindSwarm) waitNodesReady(ctx context.Context) error {
	return waitUntil(ctx, s.manager.api, make(client.Filters).Add("type", "node"), func(ctx context.Context) (bool, error) {
		list, err := s.manager.api.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return false, err
		}
		var notReady []string
		for _, n := range list.Items {
			if n.Status.State != swarm.NodeStateReady {
				notReady = append(notReady, n.Description.Hostname+" "+string(n.Status.State))
			}
		}
		if len(list.Items) != len(s.nodes()) || len(notReady) > 0 {
			return false, fmt.Errorf("%d nodes, not ready: %s", len(list.Items), strings.Join(notReady, ", "))
		}
		return true, nil
	})
}

// waitNoJobContainers returns once no node has a container of a oneshot
// job left (the swarm removes them a moment after their service), woken by
// each node's container events.
func (s *dindSwarm) waitNoJobContainers(ctx context.Context) error {
	managed := oneshot.LabelManaged + "=true"
	var errs []error
	for _, n := range s.nodes() {
		events := make(client.Filters).Add("type", "container").Add("label", managed)
		errs = append(errs, waitUntil(ctx, n.api, events, func(ctx context.Context) (bool, error) {
			left, err := n.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", managed)})
			if err != nil {
				return false, err
			}
			if len(left.Items) > 0 {
				return false, fmt.Errorf("%d job containers left on %s", len(left.Items), n.role)
			}
			return true, nil
		}))
	}
	return errors.Join(errs...)
}

// teardown removes everything the swarm created on the host engine and
// fails if anything is left.
func (s *dindSwarm) teardown(ctx context.Context) error {
	start := time.Now()
	if s.runner != nil {
		_ = s.runner.Close()
	}
	for _, n := range s.nodes() {
		if n != nil && n.api != nil {
			_ = n.api.Close()
		}
	}
	volumes, err := removeDinDRun(ctx, s.host, s.run)
	if err != nil {
		return err
	}
	left, err := dindLeftovers(ctx, s.host, s.run, volumes)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("left on the host engine: %s", strings.Join(left, ", "))
	}
	if testing.Verbose() {
		fmt.Printf("dind: %s removed in %s (%d containers' volumes)\n", s.run, time.Since(start).Round(10*time.Millisecond), len(volumes))
	}
	return nil
}

// startDinDManagers starts a swarm of n managers of its own (not the
// shared one), with the registries and job images of startDinD: the swarm
// of startDinD with n-1 workers, promoted. Its manager field is the first
// manager (the raft leader, as it made the swarm), workers holds the
// others, now managers too; their host names stay worker1, worker2... The
// swarm keeps the engine's default 5 s heartbeat: the leader's loss makes
// another manager take over, and its agents must have reconnected before
// the new leader counts them down (with the tests' 1 s a loaded machine
// can miss that; see TestDinDManagerRestartMidJob). The caller tears it
// down. The shared swarm's run stays the one a signal removes: after a
// signal, the next test run's sweep of dead runs removes this one.
func startDinDManagers(ctx context.Context, host *client.Client, n int) (*dindSwarm, error) {
	shared := dindRunID.Load()
	defer dindRunID.Store(shared)
	s, err := startDinD(ctx, host, n-1)
	if err != nil {
		return s, err
	}
	if err := s.setHeartbeat(ctx, 5*time.Second); err != nil {
		return s, fmt.Errorf("set heartbeat: %w", err)
	}
	for _, w := range s.workers {
		if err := s.promote(ctx, w); err != nil {
			return s, err
		}
	}
	return s, s.waitManagers(ctx)
}

// promote makes node n a manager.
func (s *dindSwarm) promote(ctx context.Context, n *dindNode) error {
	node, err := s.manager.api.NodeInspect(ctx, n.nodeID, client.NodeInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect node %s: %w", n.role, err)
	}
	spec := node.Node.Spec
	spec.Role = swarm.NodeRoleManager
	if _, err := s.manager.api.NodeUpdate(ctx, n.nodeID, client.NodeUpdateOptions{Version: node.Node.Version, Spec: spec}); err != nil {
		return fmt.Errorf("promote %s: %w", n.role, err)
	}
	return nil
}

// waitManagers returns once every node is a reachable manager and serves
// the swarm's API itself, woken by node events.
func (s *dindSwarm) waitManagers(ctx context.Context) error {
	return waitUntil(ctx, s.manager.api, make(client.Filters).Add("type", "node"), func(ctx context.Context) (bool, error) {
		for _, n := range s.nodes() {
			list, err := n.api.NodeList(ctx, client.NodeListOptions{})
			if err != nil {
				return false, fmt.Errorf("%s: %w", n.role, err)
			}
			for _, m := range list.Items {
				if m.ManagerStatus == nil || m.ManagerStatus.Reachability != swarm.ReachabilityReachable {
					return false, fmt.Errorf("%s sees %s not a reachable manager", n.role, m.Description.Hostname)
				}
			}
		}
		return true, nil
	})
}
