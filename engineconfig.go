package oneshot

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Which engine a Runner made by NewRunner talks to is decided as the docker
// CLI decides it (docker/cli cli/command/cli.go, resolveContextName), first
// match wins:
//
//  1. WithContext(name), as `docker --context name`;
//  2. WithHost(host), as `docker --host host` (giving both is an error, as
//     giving both flags is to the docker CLI);
//  3. DOCKER_HOST;
//  4. DOCKER_CONTEXT;
//  5. "currentContext" in config.json of the docker configuration
//     directory ($DOCKER_CONFIG, or ~/.docker), as `docker context use`
//     sets it;
//  6. the local engine's socket.
//
// The context named "default" is not in the store: it is DOCKER_HOST, or
// the local socket. A tcp:// host given by WithHost or DOCKER_HOST gets TLS
// from DOCKER_CERT_PATH, DOCKER_TLS_VERIFY and DOCKER_TLS; a stored
// context's tcp:// host gets the TLS material stored with it. ssh:// and
// socket hosts get no TLS.

// engineTarget is the engine a Runner talks to, and how.
type engineTarget struct {
	// host is the engine's address: unix://, tcp://, ssh://, npipe:// or fd://.
	host string
	// tls is nil for no TLS.
	tls *tls.Config
	// from says what named the engine, for errors.
	from string
}

// Environment variables and files the resolution reads, as the docker CLI
// names them.
const (
	envHost       = "DOCKER_HOST"
	envContext    = "DOCKER_CONTEXT"
	envConfig     = "DOCKER_CONFIG"
	envCertPath   = "DOCKER_CERT_PATH"
	envTLSVerify  = "DOCKER_TLS_VERIFY"
	envTLSOn      = "DOCKER_TLS"
	defaultCtx    = "default"
	defaultSocket = client.DefaultDockerHost // the local engine
)

// newEngineClient makes the client of the engine that host or contextName
// name (both empty: the environment's), as the docker CLI would reach it,
// and what closes it: the client, and the ssh commands of its connections.
func newEngineClient(host, contextName string) (*client.Client, io.Closer, error) {
	target, err := resolveEngine(host, contextName, os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("oneshot: %w", err)
	}
	conns := &commandConns{}
	opts, err := target.clientOpts(conns)
	if err != nil {
		return nil, nil, fmt.Errorf("oneshot: %s: %w", target.from, err)
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("oneshot: make Docker client for %s: %w", target.from, err)
	}
	return c, engineCloser{c, conns}, nil
}

// engineCloser closes a client made by newEngineClient, then stops the
// commands of the connections it still had (a stream being torn down, an
// idle connection returned after the client closed its idle ones).
type engineCloser struct {
	c     *client.Client
	conns *commandConns
}

func (e engineCloser) Close() error {
	err := e.c.Close()
	e.conns.closeAll()
	return err
}

// clientOptsForHost returns the client options that reach the engine at
// host (unix://, tcp://, ssh://[USER@]HOST[:PORT][/SOCKET]...), as
// `docker --host host` would: through the ssh client for ssh://, with the
// environment's TLS settings (DOCKER_CERT_PATH, DOCKER_TLS_VERIFY) for
// tcp://, negotiating the API version unless DOCKER_API_VERSION is set.
func clientOptsForHost(host string) ([]client.Opt, error) {
	target, err := hostTarget(host, "host "+strconv.Quote(redactHost(host)), os.Getenv)
	if err != nil {
		return nil, err
	}
	return target.clientOpts(nil)
}

// resolveEngine picks the engine as the docker CLI does (see above);
// getenv reads the environment.
func resolveEngine(host, contextName string, getenv func(string) string) (engineTarget, error) {
	switch {
	case host != "" && contextName != "":
		return engineTarget{}, fmt.Errorf("WithHost(%q) and WithContext(%q) both name the engine: give one (the docker CLI refuses --host with --context too)", redactHost(host), contextName)
	case contextName != "":
		return contextTarget(contextName, fmt.Sprintf("WithContext(%q)", contextName), getenv)
	case host != "":
		return hostTarget(host, fmt.Sprintf("WithHost(%q)", redactHost(host)), getenv)
	case getenv(envHost) != "":
		return hostTarget(getenv(envHost), envHost+"="+redactHost(getenv(envHost)), getenv)
	case getenv(envContext) != "":
		name := getenv(envContext)
		return contextTarget(name, envContext+"="+name, getenv)
	}
	dir := configDir(getenv)
	name, err := currentContext(dir)
	switch {
	case err != nil:
		return engineTarget{}, err
	case name == "":
		return engineTarget{host: defaultSocket, from: "the local engine (" + defaultSocket + ")"}, nil
	}
	return contextTarget(name, fmt.Sprintf("the current context %q of %s", name, filepath.Join(dir, "config.json")), getenv)
}

// configDir is the docker CLI's configuration directory: $DOCKER_CONFIG,
// or .docker in the home directory.
func configDir(getenv func(string) string) string {
	if dir := getenv(envConfig); dir != "" {
		return dir
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

// currentContext reads "currentContext" from dir/config.json; "" when the
// file or the field is absent.
func currentContext(dir string) (string, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the docker CLI's configuration: %w", err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("read the docker CLI's configuration %s: %w; fix the file's JSON, or set DOCKER_HOST", path, err)
	}
	return cfg.CurrentContext, nil
}

// hostTarget is the default context's endpoint at host: the host checked
// and completed as the docker CLI does (a bare HOST:PORT is tcp://, a
// tcp:// host without a port gets 2375, or 2376 with TLS), with the
// environment's TLS settings for a tcp:// host.
func hostTarget(host, from string, getenv func(string) string) (engineTarget, error) {
	normal, err := normalizeHost(host, envWantsTLS(getenv))
	if err != nil {
		return engineTarget{}, fmt.Errorf("%s: %w", from, err)
	}
	t := engineTarget{host: normal, from: from}
	if strings.HasPrefix(normal, "tcp://") && envWantsTLS(getenv) {
		if t.tls, err = envTLS(getenv); err != nil {
			return engineTarget{}, fmt.Errorf("%s: %w", from, err)
		}
	}
	return t, nil
}

// normalizeHost checks host and completes it as the docker CLI's -H does.
func normalizeHost(host string, withTLS bool) (string, error) {
	const want = "want unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]"
	host = strings.TrimSpace(host)
	if host == "" {
		return "", fmt.Errorf("no host given; %s", want)
	}
	proto, addr, ok := strings.Cut(host, "://")
	if !ok {
		proto, addr = "tcp", host
	}
	switch proto {
	case "tcp":
		return normalizeTCP(host, addr, withTLS)
	case "unix", "npipe":
		if addr == "" || strings.Contains(addr, "://") {
			return "", fmt.Errorf("malformed host %q: %s", redactHost(host), want)
		}
		return host, nil
	case "ssh":
		if _, err := parseSSHHost(host); err != nil {
			return "", err
		}
		return host, nil
	case "fd":
		return host, nil
	}
	return "", fmt.Errorf("malformed host %q: unknown scheme %q; %s", redactHost(host), proto, want)
}

// normalizeTCP completes a tcp:// address: host and port, with the port
// IANA registered for Docker when it is missing.
func normalizeTCP(host, addr string, withTLS bool) (string, error) {
	port := "2375"
	if withTLS {
		port = "2376"
	}
	u, err := url.Parse("tcp://" + addr)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("malformed host %q: want tcp://HOST:PORT", redactHost(host))
	}
	h, p := u.Hostname(), u.Port()
	if p == "" {
		p = port
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("malformed host %q: port %q is not a port number", host, p)
	}
	if h == "" {
		h = "localhost"
	}
	return "tcp://" + net.JoinHostPort(h, p) + u.Path, nil
}

// redactHost is host for messages: a password in it is replaced by xxxxx.
func redactHost(host string) string {
	if u, err := url.Parse(host); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return host
}

// envWantsTLS says whether DOCKER_CERT_PATH, DOCKER_TLS_VERIFY or
// DOCKER_TLS is set.
func envWantsTLS(getenv func(string) string) bool {
	return getenv(envCertPath) != "" || getenv(envTLSVerify) != "" || getenv(envTLSOn) != ""
}

// envTLS is the TLS configuration that DOCKER_CERT_PATH, DOCKER_TLS_VERIFY
// and DOCKER_TLS ask for. As client.FromEnv, DOCKER_CERT_PATH alone turns
// TLS on without verifying the engine's certificate; as the docker CLI,
// DOCKER_TLS_VERIFY or DOCKER_TLS without DOCKER_CERT_PATH take the files
// from the docker configuration directory. The directory must hold ca.pem,
// cert.pem and key.pem, as client.FromEnv wants.
func envTLS(getenv func(string) string) (*tls.Config, error) {
	dir, verify := getenv(envCertPath), getenv(envTLSVerify) != ""
	from := envCertPath + "=" + dir
	if dir == "" {
		dir = configDir(getenv)
		from = "the docker configuration directory " + dir + " (" + envCertPath + " is unset)"
	}
	cfg, err := readTLSDir(dir, !verify, true)
	if err != nil {
		return nil, fmt.Errorf("TLS files from %s: %w; put ca.pem, cert.pem and key.pem there, or unset %s, %s and %s", from, err, envCertPath, envTLSVerify, envTLSOn)
	}
	return cfg, nil
}

// readTLSDir reads a TLS client configuration from dir: ca.pem is the only
// CA trusted for the engine's certificate (without it, the system's CAs),
// cert.pem and key.pem are the client's certificate and key. required says
// all three must be there.
func readTLSDir(dir string, skipVerify, required bool) (*tls.Config, error) {
	var pem [3][]byte
	for i, name := range []string{"ca.pem", "cert.pem", "key.pem"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case errors.Is(err, os.ErrNotExist) && !required:
		case err != nil:
			return nil, err
		default:
			pem[i] = data
		}
	}
	return tlsConfig(pem[0], pem[1], pem[2], skipVerify)
}

// tlsConfig makes a TLS client configuration (TLS 1.2 or later) from PEM
// data; any of it may be nil.
func tlsConfig(ca, cert, key []byte, skipVerify bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify}
	if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("ca.pem holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	switch {
	case cert != nil && key != nil:
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("cert.pem and key.pem: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case cert != nil:
		return nil, errors.New("cert.pem is there but key.pem is not: give both, or neither")
	case key != nil:
		return nil, errors.New("key.pem is there but cert.pem is not: give both, or neither")
	}
	return cfg, nil
}

// contextMeta is what oneshot reads of a context's meta.json in the docker
// CLI's context store.
type contextMeta struct {
	Name      string
	Endpoints map[string]struct {
		Host          string
		SkipTLSVerify bool
	}
}

// contextTarget is the endpoint of the context named name, from the
// docker CLI's context store: contexts/meta/<sha256(name)>/meta.json in
// the configuration directory, its TLS material (ca.pem, cert.pem and
// key.pem, each optional) in contexts/tls/<sha256(name)>/docker.
func contextTarget(name, from string, getenv func(string) string) (engineTarget, error) {
	if name == defaultCtx {
		host := getenv(envHost)
		if host == "" {
			host = defaultSocket
		}
		return hostTarget(host, from+" (the default context: "+envHost+", or the local engine)", getenv)
	}
	store := filepath.Join(configDir(getenv), "contexts")
	id := contextID(name)
	meta, err := readContextMeta(filepath.Join(store, "meta", id, "meta.json"))
	if err != nil {
		return engineTarget{}, fmt.Errorf("context %q (from %s): %w", name, from, err)
	}
	ep := meta.Endpoints["docker"]
	t := engineTarget{host: ep.Host, from: fmt.Sprintf("context %q (from %s)", name, from)}
	if t.host == "" {
		t.host = defaultSocket
	}
	if t.host, err = normalizeHost(t.host, false); err != nil {
		return engineTarget{}, fmt.Errorf("%s: %w; fix it with `docker context update %s --docker host=...`", t.from, err, name)
	}
	if strings.HasPrefix(t.host, "tcp://") {
		t.tls, err = contextTLS(filepath.Join(store, "tls", id, "docker"), ep.SkipTLSVerify)
		if err != nil {
			return engineTarget{}, fmt.Errorf("%s: %w", t.from, err)
		}
	}
	return t, nil
}

// contextTLS is the TLS configuration of a context's docker endpoint, from
// the material stored in dir; nil when there is none and the endpoint does
// not skip verification (plain TCP), as for the docker CLI.
func contextTLS(dir string, skipVerify bool) (*tls.Config, error) {
	cfg, err := readTLSDir(dir, skipVerify, false)
	if err != nil {
		return nil, fmt.Errorf("TLS material in %s: %w", dir, err)
	}
	if cfg.RootCAs == nil && cfg.Certificates == nil && !skipVerify {
		return nil, nil
	}
	return cfg, nil
}

// contextID is the directory name of a context in the store.
func contextID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// readContextMeta reads a context's meta.json.
func readContextMeta(path string) (contextMeta, error) {
	var meta contextMeta
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return meta, fmt.Errorf("no such context: %s does not exist; `docker context ls` lists the contexts", path)
	}
	if err != nil {
		return meta, err
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return meta, fmt.Errorf("read %s: %w", path, err)
	}
	if _, ok := meta.Endpoints["docker"]; !ok {
		return meta, fmt.Errorf("%s has no docker endpoint", path)
	}
	return meta, nil
}

// clientOpts are the client options that reach the target, negotiating
// the API version unless DOCKER_API_VERSION sets it; the ssh connections
// are kept in conns, if not nil.
func (t engineTarget) clientOpts(conns *commandConns) ([]client.Opt, error) {
	opts := []client.Opt{client.WithAPIVersionFromEnv()}
	switch {
	case strings.HasPrefix(t.host, "ssh://"):
		dial, err := sshDialer(t.host, conns)
		if err != nil {
			return nil, err
		}
		// The host is a name for the requests only; every connection is
		// a new ssh command (a handshake, and docker started on the
		// host: 0.3-1 s), so more of them are kept idle for reuse than
		// net/http's 2. No proxy: the connection is the command.
		transport := &http.Transport{DialContext: dial, MaxIdleConns: 6, MaxIdleConnsPerHost: 6, IdleConnTimeout: 30 * time.Second}
		return append(opts, client.WithHost("http://docker.example.com"), client.WithHTTPClient(&http.Client{Transport: transport, CheckRedirect: client.CheckRedirect})), nil
	case t.tls != nil:
		transport := &http.Transport{TLSClientConfig: t.tls}
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: transport, CheckRedirect: client.CheckRedirect}))
	}
	return append(opts, client.WithHost(t.host)), nil
}
