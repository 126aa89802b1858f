package integration

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// dindNode is one engine of the test swarm: a Docker-in-Docker container.
type dindNode struct {
	// role is manager, worker1, worker2...: also the node's host name (for
	// node.hostname constraints) and its alias on the swarm's network.
	role string
	// name is the container's name on the host engine.
	name      string
	container *testcontainers.DockerContainer
	// hostPort is the loopback port the node's API is published on. It is
	// bound explicitly, so it stays the same when the node restarts (a port
	// Docker picks changes on every start) and api keeps working.
	hostPort string
	api      *client.Client
	nodeID   string
}

// Host is the node's Docker API address, for DOCKER_HOST or client.WithHost.
func (n *dindNode) Host() string { return "tcp://127.0.0.1:" + n.hostPort }

// dindNodeImage is the image the nodes run: ONESHOT_DIND_IMAGE, or that of
// the engine ONESHOT_DIND_ENGINE selects (integration/dind/build-node-image.sh
// builds both).
func dindNodeImage() string {
	if img := os.Getenv("ONESHOT_DIND_IMAGE"); img != "" {
		return img
	}
	return dindSelected.image
}

// dindPrivileged says whether the nodes run with --privileged
// (ONESHOT_DIND_PRIVILEGED=1; docker:dind needs it). This machine cannot
// grant it: by default the nodes get the capabilities and options below,
// and the image's entry point remounts /sys and the cgroups writable.
func dindPrivileged() bool { return os.Getenv("ONESHOT_DIND_PRIVILEGED") == "1" }

// dindCapabilities are all the capabilities Docker 20.10 knows but
// SYS_RESOURCE, which this machine's bounding set lacks (so --privileged,
// which asks for all, fails here).
var dindCapabilities = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ"}

// dindNodeHostConfig gives a node what a Docker engine needs, privileged or
// not, and publishes its API on 127.0.0.1:port.
func dindNodeHostConfig(port string) func(*container.HostConfig) {
	return func(hc *container.HostConfig) {
		hc.PortBindings = mobynet.PortMap{mobynet.MustParsePort("2375/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: port}}}
		if dindPrivileged() {
			hc.Privileged = true
			return
		}
		hc.CapAdd = dindCapabilities
		hc.SecurityOpt = []string{"seccomp=unconfined", "apparmor=unconfined"}
		hc.MaskedPaths, hc.ReadonlyPaths = []string{}, []string{}
		hc.DeviceCgroupRules = []string{"a *:* rwm"}
	}
}

// dindAPIReady is the nodes' wait strategy: the engine answers /_ping.
func dindAPIReady() wait.Strategy {
	return wait.ForHTTP("/_ping").WithPort("2375/tcp").WithStartupTimeout(time.Minute)
}

// startNode runs the engine of n (whose role is set). Its arguments are
// dockerd flags (the node image's entry point and docker:dind's both take
// them so); DOCKER_TLS_CERTDIR="" makes docker:dind serve plain TCP on 2375,
// as ours does.
func (s *dindSwarm) startNode(ctx context.Context, n *dindNode) error {
	n.name = s.run + "-" + n.role
	port, err := freeLoopbackPort()
	if err != nil {
		return err
	}
	n.hostPort = port
	var flags []string
	for _, r := range s.registries() {
		flags = append(flags, "--insecure-registry", r.nodeAddr())
	}
	n.container, err = testcontainers.Run(ctx, dindNodeImage(),
		testcontainers.WithLogger(s.tcLogger),
		testcontainers.WithName(n.name),
		testcontainers.WithLabels(s.labels()),
		network.WithNetworkName([]string{n.role}, s.run),
		testcontainers.WithConfigModifier(func(c *container.Config) { c.Hostname = n.role }),
		testcontainers.WithEnv(map[string]string{"DOCKER_TLS_CERTDIR": ""}),
		testcontainers.WithCmd(flags...),
		testcontainers.WithExposedPorts("2375/tcp"),
		testcontainers.WithHostConfigModifier(dindNodeHostConfig(port)),
		testcontainers.WithWaitStrategy(dindAPIReady()),
	)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.role, err)
	}
	n.api, err = client.New(client.WithHost(n.Host()))
	return err
}

// kill kills the node's container (the machine loses power) and returns
// once it has stopped.
func (n *dindNode) kill(ctx context.Context, host *client.Client) error {
	if _, err := host.ContainerKill(ctx, n.container.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		return fmt.Errorf("kill node %s: %w", n.role, err)
	}
	waited := host.ContainerWait(ctx, n.container.GetContainerID(), client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-waited.Result:
		return nil
	case err := <-waited.Error:
		return fmt.Errorf("wait for node %s to stop: %w", n.role, err)
	}
}

// stop stops the node's engine gracefully (SIGTERM, then SIGKILL after
// grace), as a machine shut down by its operator.
func (n *dindNode) stop(ctx context.Context, grace time.Duration) error {
	if err := n.container.Stop(ctx, &grace); err != nil {
		return fmt.Errorf("stop node %s: %w", n.role, err)
	}
	return nil
}

// start starts a stopped node again and returns once its engine answers
// (testcontainers runs the wait strategy again). The node keeps its
// /var/lib/docker volume, so it rejoins the swarm by itself.
func (n *dindNode) start(ctx context.Context) error {
	if err := n.container.Start(ctx); err != nil {
		return fmt.Errorf("start node %s: %w", n.role, err)
	}
	return nil
}

// restartEngine restarts the node's container at once (no grace period:
// the engine is killed) and returns as soon as the container runs again,
// before its engine answers.
func (n *dindNode) restartEngine(ctx context.Context, host *client.Client) error {
	if _, err := host.ContainerRestart(ctx, n.container.GetContainerID(), client.ContainerRestartOptions{Timeout: new(int)}); err != nil {
		return fmt.Errorf("restart node %s: %w", n.role, err)
	}
	return nil
}

// ensureUp starts the node if it is not running and waits until its engine
// answers: what a test that stopped a node does when it ends, however it
// ended.
func (n *dindNode) ensureUp(ctx context.Context) error {
	state, err := n.container.State(ctx)
	if err != nil {
		return fmt.Errorf("inspect node %s: %w", n.role, err)
	}
	if !state.Running {
		return n.start(ctx)
	}
	return dindAPIReady().WaitUntilReady(ctx, n.container)
}

// freeLoopbackPort returns a TCP port free on 127.0.0.1 right now.
func freeLoopbackPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
