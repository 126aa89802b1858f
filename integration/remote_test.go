package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
	"golang.org/x/crypto/ssh"

	"github.com/oneshot-go/oneshot"
)

// TestRemoteEngine runs jobs on a swarm that is not local, reached as the
// docker CLI reaches one: through ssh://, through TCP with TLS from the
// environment, and through a docker context. One Docker-in-Docker node
// (a single-node swarm) serves both: sshd lets root in with a key the test
// made, and its engine listens on tcp :2376 with --tlsverify and
// certificates the test made for the node's IP.
func TestRemoteEngine(t *testing.T) {
	node := startRemoteNode(t)
	// The first job on the new swarm pays for what a swarm does once
	// (seconds on a loaded machine): TLS goes first, so that the ssh
	// job's time is ssh's.
	t.Run("tlsFromEnv", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", node.tcpHost())
		t.Setenv("DOCKER_TLS_VERIFY", "1")
		t.Setenv("DOCKER_CERT_PATH", node.clientDir)
		testRemoteJob(t, "over TLS from the environment")
	})
	t.Run("ssh", func(t *testing.T) {
		node.useSSHConfig(t)
		testRemoteJob(t, "over ssh", oneshot.WithHost("ssh://root@"+node.ip))
	})
	t.Run("sshRefused", node.testSSHRefused)
	t.Run("tlsContext", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", "")
		t.Setenv("DOCKER_CONTEXT", "")
		t.Setenv("DOCKER_CONFIG", node.writeContext(t, "remote-swarm", node.ca))
		testRemoteJob(t, "through WithContext", oneshot.WithContext("remote-swarm"))
		testRemoteJob(t, "through the current context") // config.json's currentContext
	})
	t.Run("wrongCA", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", "")
		t.Setenv("DOCKER_CONFIG", node.writeContext(t, "wrong-ca", node.wrongCA))
		r, err := oneshot.NewRunner(oneshot.WithContext("wrong-ca"))
		require.NoError(t, err)
		defer r.Close()
		_, err = r.Run(t.Context(), oneshot.JobSpec{Image: jobkitImage, Command: []string{"echo", "never"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "certificate signed by unknown authority")
		t.Logf("with the wrong CA: %v", err)
	})
	t.Run("cli", func(t *testing.T) {
		node.useSSHConfig(t)
		t.Setenv("DOCKER_CONFIG", node.writeContext(t, "remote-swarm", node.ca))
		t.Setenv("DOCKER_HOST", "tcp://192.0.2.1:9") // the flags win over it
		bin := cliBinary(t)
		for _, args := range [][]string{
			{"-H", "ssh://root@" + node.ip, "run", jobkitImage, "echo", "cli over ssh"},
			{"--context", "remote-swarm", "run", jobkitImage, "echo", "cli through a context"},
		} {
			start := time.Now()
			var stderr strings.Builder
			cmd := exec.CommandContext(t.Context(), bin, args...)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			require.NoError(t, err, "oneshot %s\n%s", strings.Join(args, " "), stderr.String())
			assert.Equal(t, args[len(args)-1]+"\n", string(out), args)
			t.Logf("oneshot %s: %s", strings.Join(args[:2], " "), time.Since(start).Round(10*time.Millisecond))
		}
	})
}

// testRemoteJob runs a job that echoes words on a Runner made with opts,
// closes the Runner, and checks that it left no ssh process behind.
func testRemoteJob(t *testing.T, words string, opts ...oneshot.RunnerOption) {
	t.Helper()
	start := time.Now()
	r, err := oneshot.NewRunner(opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := r.Run(ctx, oneshot.JobSpec{Image: jobkitImage, Command: []string{"echo", words}})
	require.NoError(t, err)
	assert.Equal(t, words+"\n", string(res.Stdout))
	require.NoError(t, r.Close())
	assert.Empty(t, childProcesses(t, "ssh"), "ssh processes left after Runner.Close")
	t.Logf("job %s: %s", words, time.Since(start).Round(10*time.Millisecond))
}

// remoteNode is the test's remote engine and what reaches it.
type remoteNode struct {
	run  string // names and labels everything the test creates on the host
	host *client.Client
	ip   string
	// admin is the test's own client of the node (TLS, moby's options).
	admin *client.Client
	// clientDir holds ca.pem, cert.pem and key.pem, as DOCKER_CERT_PATH
	// wants them.
	clientDir string
	// ca is the node's CA; wrongCA one that did not sign its certificate.
	ca, wrongCA testCA
	// sshDir holds the key pair, the known_hosts file and the ssh config.
	sshDir, hostKey string
}

func (n *remoteNode) tcpHost() string { return "tcp://" + net.JoinHostPort(n.ip, "2376") }

// startRemoteNode starts the node, makes it a single-node swarm and loads
// the job image into it; the test's clean-up removes it all.
func startRemoteNode(t *testing.T) *remoteNode {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	host, err := client.New(client.FromEnv)
	require.NoError(t, err)
	n := &remoteNode{run: "oneshot-remote-" + randomSuffix(), host: host, clientDir: t.TempDir(), sshDir: t.TempDir()}
	t.Cleanup(n.teardown(t))
	if err := sweepDeadRuns(ctx, host); err != nil {
		t.Logf("sweeping the runs of dead test processes: %v", err)
	}
	subnet, err := n.createNetwork(ctx)
	require.NoError(t, err)
	n.ip = subnet.Addr().Next().Next().String() // .2; .1 is the gateway
	n.ca, n.wrongCA = newTestCA(t, "oneshot test CA"), newTestCA(t, "some other CA")
	server := n.ca.issue(t, "node", n.ip)
	n.ca.writeClient(t, n.clientDir)
	pub := n.makeSSHKey(t)
	require.NoError(t, n.startContainer(ctx, server, pub))
	require.NoError(t, n.prepare(ctx))
	t.Logf("remote node %s at %s ready in %s", n.run, n.ip, time.Since(start).Round(10*time.Millisecond))
	return n
}

// createNetwork creates the node's network with a subnet of its own (the
// node's address must be known before it starts, for its certificate);
// it tries a few, in case one is taken.
func (n *remoteNode) createNetwork(ctx context.Context) (netip.Prefix, error) {
	var err error
	for range 5 {
		b := make([]byte, 1)
		_, _ = rand.Read(b)
		subnet := netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/24", b[0]))
		_, err = n.host.NetworkCreate(ctx, n.run, client.NetworkCreateOptions{Driver: "bridge", Labels: n.labels(),
			IPAM: &mobynet.IPAM{Config: []mobynet.IPAMConfig{{Subnet: subnet, Gateway: subnet.Addr().Next()}}}})
		if err == nil {
			return subnet, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("create network %s: %w", n.run, err)
}

func (n *remoteNode) labels() map[string]string {
	return map[string]string{labelDinDRun: n.run, labelDinDOwner: dindOwner()}
}

// startContainer starts the node: sshd with the key pub, the engine on
// TLS only, with the server certificate.
func (n *remoteNode) startContainer(ctx context.Context, server testCert, pub []byte) error {
	files := []testcontainers.ContainerFile{
		{Reader: strings.NewReader(string(n.ca.certPEM)), ContainerFilePath: "/certs/ca.pem", FileMode: 0o644},
		{Reader: strings.NewReader(string(server.certPEM)), ContainerFilePath: "/certs/cert.pem", FileMode: 0o644},
		{Reader: strings.NewReader(string(server.keyPEM)), ContainerFilePath: "/certs/key.pem", FileMode: 0o600},
	}
	c, err := testcontainers.Run(ctx, dindNodeImage(),
		testcontainers.WithLogger(quietLogger()),
		testcontainers.WithName(n.run+"-node"),
		testcontainers.WithLabels(n.labels()),
		network.WithNetworkName([]string{"node"}, n.run),
		testcontainers.WithEndpointSettingsModifier(func(eps map[string]*mobynet.EndpointSettings) {
			eps[n.run].IPAMConfig = &mobynet.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr(n.ip)}
		}),
		testcontainers.WithConfigModifier(func(c *container.Config) { c.Hostname = "node" }),
		testcontainers.WithEnv(map[string]string{"ONESHOT_DIND_SSHD": "1", "ONESHOT_DIND_SSH_KEY": string(pub),
			"ONESHOT_DIND_TLS_DIR": "/certs", "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1", "DOCKER_TLS_CERTDIR": ""}),
		testcontainers.WithFiles(files...),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			dindNodeHostConfig("")(hc)
			hc.PortBindings = nil // reached at its IP
		}),
		testcontainers.WithWaitStrategy(wait.ForLog("API listen on [::]:2376").WithStartupTimeout(time.Minute)),
	)
	if err != nil {
		return fmt.Errorf("start the remote node: %w", err)
	}
	key, err := c.CopyFileFromContainer(ctx, "/etc/ssh/ssh_host_ed25519_key.pub")
	if err != nil {
		return fmt.Errorf("read the node's host key: %w", err)
	}
	defer key.Close()
	hostKey, err := io.ReadAll(key)
	n.hostKey = strings.TrimSpace(string(hostKey))
	return err
}

// prepare makes the node a single-node swarm and loads the job image into
// it (docker save | docker load), through the test's own TLS client.
func (n *remoteNode) prepare(ctx context.Context) error {
	var err error
	n.admin, err = client.New(client.WithHost(n.tcpHost()), client.WithTLSClientConfig(
		filepath.Join(n.clientDir, "ca.pem"), filepath.Join(n.clientDir, "cert.pem"), filepath.Join(n.clientDir, "key.pem")))
	if err != nil {
		return err
	}
	if _, err := n.admin.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: n.ip}); err != nil {
		return fmt.Errorf("swarm init on the remote node: %w", err)
	}
	// The first job's time must not include the node becoming ready.
	err = waitUntil(ctx, n.admin, make(client.Filters).Add("type", "node"), func(ctx context.Context) (bool, error) {
		list, err := n.admin.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return false, err
		}
		return len(list.Items) == 1 && list.Items[0].Status.State == swarm.NodeStateReady, nil
	})
	if err != nil {
		return fmt.Errorf("wait for the remote node to be ready: %w", err)
	}
	saved, err := n.host.ImageSave(ctx, []string{jobkitImage})
	if err != nil {
		return fmt.Errorf("save %s: %w", jobkitImage, err)
	}
	defer saved.Close()
	loaded, err := n.admin.ImageLoad(ctx, saved)
	if err != nil {
		return fmt.Errorf("load %s into the remote node: %w", jobkitImage, err)
	}
	defer loaded.Close()
	_, err = io.Copy(io.Discard, loaded)
	return err
}

// teardown removes the node, its volume and its network, and fails the
// test if any is left.
func (n *remoteNode) teardown(t *testing.T) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if n.admin != nil {
			_ = n.admin.Close()
		}
		volumes, err := removeDinDRun(ctx, n.host, n.run)
		assert.NoError(t, err)
		left, err := dindLeftovers(ctx, n.host, n.run, volumes)
		assert.NoError(t, err)
		assert.Empty(t, left, "left on the host engine")
	}
}

// makeSSHKey makes an ed25519 key pair, id_ed25519 in sshDir, and returns
// the public key as an authorized_keys line.
func (n *remoteNode) makeSSHKey(t *testing.T) []byte {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "oneshot test")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(n.sshDir, "id_ed25519"), pem.EncodeToMemory(block), 0o600))
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return ssh.MarshalAuthorizedKey(sshPub)
}

// useSSHConfig gives the ssh client, for this test, what a user's
// ~/.ssh/config and known_hosts would: the node's key and host key, and
// strict host key checking. OpenSSH reads ~/.ssh from the password
// database, not $HOME, so the test puts first on PATH an ssh that runs
// the real one with -F and that file; oneshot runs plain `ssh` as the
// docker CLI does.
func (n *remoteNode) useSSHConfig(t *testing.T) {
	t.Helper()
	real, err := exec.LookPath("ssh")
	require.NoError(t, err, "the ssh client (scripts/setup.sh installs openssh-client)")
	knownHosts := filepath.Join(n.sshDir, "known_hosts")
	require.NoError(t, os.WriteFile(knownHosts, []byte(n.ip+" "+n.hostKey+"\n"), 0o600))
	config := filepath.Join(n.sshDir, "config")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `Host %s
	IdentityFile %s
	IdentitiesOnly yes
	UserKnownHostsFile %s
	StrictHostKeyChecking yes
	BatchMode yes
`, n.ip, filepath.Join(n.sshDir, "id_ed25519"), knownHosts), 0o600))
	bin := t.TempDir()
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", real, config)
	require.NoError(t, os.WriteFile(filepath.Join(bin, "ssh"), []byte(wrapper), 0o755))
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// testSSHRefused checks that a login the node refuses fails the job with
// the ssh client's own words.
func (n *remoteNode) testSSHRefused(t *testing.T) {
	n.useSSHConfig(t)
	r, err := oneshot.NewRunner(oneshot.WithHost("ssh://nobody@" + n.ip))
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Run(t.Context(), oneshot.JobSpec{Image: jobkitImage, Command: []string{"echo", "never"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Permission denied (publickey")
	assert.Contains(t, err.Error(), "exit status 255")
	t.Logf("refused: %v", err)
}

// writeContext writes a docker configuration directory whose context name
// (current) reaches the node over TLS trusting ca, as `docker context
// create NAME --docker host=tcp://IP:2376,ca=...,cert=...,key=...` and
// `docker context use NAME` do; it returns the directory.
func (n *remoteNode) writeContext(t *testing.T, name string, ca testCA) string {
	t.Helper()
	dir := t.TempDir()
	sum := sha256Hex(name)
	meta := map[string]any{"Name": name, "Metadata": map[string]any{"Description": "the test's remote swarm"},
		"Endpoints": map[string]any{"docker": map[string]any{"Host": n.tcpHost(), "SkipTLSVerify": false}}}
	data, err := json.Marshal(meta)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "contexts", "meta", sum), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "contexts", "meta", sum, "meta.json"), data, 0o644))
	tlsDir := filepath.Join(dir, "contexts", "tls", sum, "docker")
	require.NoError(t, os.MkdirAll(tlsDir, 0o700))
	n.ca.writeClient(t, tlsDir) // the client's certificate, which the node's CA signed
	require.NoError(t, os.WriteFile(filepath.Join(tlsDir, "ca.pem"), ca.certPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext": "`+name+`"}`), 0o600))
	return dir
}

// testCA is a certificate authority made for the test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// testCert is a certificate and its key, PEM-encoded.
type testCert struct{ certPEM, keyPEM []byte }

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate signed by the CA: a server's for the IP
// addresses given, a client's without.
func (ca testCA) issue(t *testing.T, name string, ips ...string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if len(ips) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, ip := range append(ips, "127.0.0.1") {
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return testCert{certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}
}

// writeClient writes ca.pem, and a client certificate the CA signed as
// cert.pem and key.pem, into dir.
func (ca testCA) writeClient(t *testing.T, dir string) {
	t.Helper()
	c := ca.issue(t, "oneshot test client")
	for name, data := range map[string][]byte{"ca.pem": ca.certPEM, "cert.pem": c.certPEM, "key.pem": c.keyPEM} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
}

// quietLogger is testcontainers' logger for the remote node: silent unless
// ONESHOT_TEST_DEBUG is set.
func quietLogger() tclog.Logger {
	if os.Getenv("ONESHOT_TEST_DEBUG") != "" {
		return tclog.Default()
	}
	return tclog.NewNoopLogger()
}

// sha256Hex is a context's directory name in the docker CLI's store.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// childProcesses lists the PIDs of this process's children named comm.
func childProcesses(t *testing.T, comm string) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	var pids []int
	for _, path := range stats {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[closing+1:])
		if open < 0 || len(fields) < 2 || s[open+1:closing] != comm || fields[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == os.Getpid() {
			pid, _ := strconv.Atoi(strings.Fields(s)[0])
			pids = append(pids, pid)
		}
	}
	return pids
}
