package oneshot

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testPEM is a CA certificate, and a certificate and key it signed.
type testPEM struct{ ca, cert, key []byte }

func newTestPEM(t *testing.T) testPEM {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return testPEM{
		ca:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
}

// write puts the files that are not skipped in dir, as ca.pem, cert.pem
// and key.pem.
func (p testPEM) write(t *testing.T, dir string, skip ...string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o700))
	for name, data := range map[string][]byte{"ca.pem": p.ca, "cert.pem": p.cert, "key.pem": p.key} {
		if !contains(skip, name) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// testContext writes a context to the store of the configuration
// directory dir, as `docker context create` does; tls lists the TLS files
// to store with it.
func testContext(t *testing.T, dir, name, host string, skipTLSVerify bool, p testPEM, tls ...string) {
	t.Helper()
	id := contextID(name)
	meta := map[string]any{"Name": name, "Metadata": map[string]any{},
		"Endpoints": map[string]any{"docker": map[string]any{"Host": host, "SkipTLSVerify": skipTLSVerify}}}
	data, err := json.Marshal(meta)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "contexts", "meta", id), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "contexts", "meta", id, "meta.json"), data, 0o644))
	if len(tls) > 0 {
		var skip []string
		for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
			if !contains(tls, f) {
				skip = append(skip, f)
			}
		}
		p.write(t, filepath.Join(dir, "contexts", "tls", id, "docker"), skip...)
	}
}

// engineConfigDir makes a docker configuration directory with contexts:
// "remote" (TLS, verified), "insecure" (TLS, not verified), "builder"
// (ssh), "halfcert" (a certificate without its key), "broken" (a bad
// host); current names the current context, if any.
func engineConfigDir(t *testing.T, p testPEM, current string) string {
	t.Helper()
	dir := t.TempDir()
	testContext(t, dir, "remote", "tcp://swarm.example:2376", false, p, "ca.pem", "cert.pem", "key.pem")
	testContext(t, dir, "insecure", "tcp://10.0.0.9:2376", true, p)
	testContext(t, dir, "builder", "ssh://deploy@build.example:2222", false, p, "ca.pem")
	testContext(t, dir, "halfcert", "tcp://swarm.example:2376", false, p, "cert.pem")
	testContext(t, dir, "broken", "http://swarm.example", false, p)
	if current != "" {
		data, err := json.Marshal(map[string]any{"auths": map[string]any{}, "currentContext": current})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600))
	}
	return dir
}

func TestResolveEngine(t *testing.T) {
	p := newTestPEM(t)
	certDir := t.TempDir()
	p.write(t, certDir)
	type want struct {
		host       string
		tls        bool // a TLS configuration
		verify     bool // that verifies the engine's certificate
		clientCert bool
		problem    string
	}
	cases := []struct {
		name          string
		host, context string            // WithHost, WithContext
		env           map[string]string // DOCKER_CONFIG is set to the test's directory
		current       string            // currentContext in config.json
		want          want
	}{
		{name: "nothing set: the local socket", want: want{host: "unix:///var/run/docker.sock"}},
		{name: "DOCKER_HOST", env: map[string]string{"DOCKER_HOST": "tcp://10.1.2.3"}, want: want{host: "tcp://10.1.2.3:2375"}},
		{name: "a bare HOST:PORT is tcp", env: map[string]string{"DOCKER_HOST": "10.1.2.3:2380"}, want: want{host: "tcp://10.1.2.3:2380"}},
		{name: "DOCKER_HOST wins over DOCKER_CONTEXT and the current context",
			env: map[string]string{"DOCKER_HOST": "unix:///run/other.sock", "DOCKER_CONTEXT": "remote"}, current: "builder",
			want: want{host: "unix:///run/other.sock"}},
		{name: "DOCKER_CONTEXT: host and TLS from the store", env: map[string]string{"DOCKER_CONTEXT": "remote"},
			want: want{host: "tcp://swarm.example:2376", tls: true, verify: true, clientCert: true}},
		{name: "DOCKER_CONTEXT wins over the current context", env: map[string]string{"DOCKER_CONTEXT": "insecure"}, current: "remote",
			want: want{host: "tcp://10.0.0.9:2376", tls: true}},
		{name: "the current context", current: "builder", want: want{host: "ssh://deploy@build.example:2222"}},
		{name: "the current context named default", current: "default", env: map[string]string{"DOCKER_CONTEXT": ""},
			want: want{host: "unix:///var/run/docker.sock"}},
		{name: "WithContext wins over DOCKER_HOST", context: "remote", env: map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2375"},
			want: want{host: "tcp://swarm.example:2376", tls: true, verify: true, clientCert: true}},
		{name: "WithHost wins over DOCKER_HOST and DOCKER_CONTEXT", host: "ssh://root@10.1.2.3",
			env: map[string]string{"DOCKER_HOST": "tcp://10.9.9.9:2375", "DOCKER_CONTEXT": "remote"}, want: want{host: "ssh://root@10.1.2.3"}},
		{name: "WithContext default is DOCKER_HOST", context: "default", env: map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2375"},
			want: want{host: "tcp://10.1.2.3:2375"}},
		{name: "WithContext default without DOCKER_HOST is the socket", context: "default", current: "remote",
			want: want{host: "unix:///var/run/docker.sock"}},
		{name: "DOCKER_CERT_PATH and DOCKER_TLS_VERIFY", env: map[string]string{"DOCKER_HOST": "tcp://10.1.2.3", "DOCKER_CERT_PATH": certDir, "DOCKER_TLS_VERIFY": "1"},
			want: want{host: "tcp://10.1.2.3:2376", tls: true, verify: true, clientCert: true}},
		{name: "DOCKER_CERT_PATH alone: TLS, not verified, as client.FromEnv", env: map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2376", "DOCKER_CERT_PATH": certDir},
			want: want{host: "tcp://10.1.2.3:2376", tls: true, clientCert: true}},
		{name: "TLS settings do not apply to ssh", host: "ssh://10.1.2.3", env: map[string]string{"DOCKER_CERT_PATH": certDir, "DOCKER_TLS_VERIFY": "1"},
			want: want{host: "ssh://10.1.2.3"}},
		{name: "an unknown context", env: map[string]string{"DOCKER_CONTEXT": "staging"},
			want: want{problem: `context "staging" (from DOCKER_CONTEXT=staging): no such context`}},
		{name: "an unknown current context", current: "gone",
			want: want{problem: `context "gone" (from the current context "gone" of `}},
		{name: "a context's bad host", context: "broken", want: want{problem: `unknown scheme "http"`}},
		{name: "a certificate without its key", context: "halfcert", want: want{problem: "cert.pem is there but key.pem is not"}},
		{name: "missing TLS files", env: map[string]string{"DOCKER_HOST": "tcp://10.1.2.3", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": t.TempDir()},
			want: want{problem: "ca.pem: no such file or directory; put ca.pem, cert.pem and key.pem there"}},
		{name: "a malformed host", host: "tcp://10.1.2.3:99999", want: want{problem: `WithHost("tcp://10.1.2.3:99999"): malformed host`}},
		{name: "an unknown scheme", env: map[string]string{"DOCKER_HOST": "https://10.1.2.3"}, want: want{problem: "DOCKER_HOST=https://10.1.2.3: malformed host"}},
		{name: "host and context", host: "tcp://10.1.2.3:2375", context: "remote", want: want{problem: "both name the engine"}},
		{name: "a password is not repeated", env: map[string]string{"DOCKER_HOST": "tcp://me:hunter2@10.1.2.3"},
			want: want{problem: `DOCKER_HOST=tcp://me:xxxxx@10.1.2.3: malformed host "tcp://me:xxxxx@10.1.2.3"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"DOCKER_CONFIG": engineConfigDir(t, p, tc.current)}
			for k, v := range tc.env {
				env[k] = v
			}
			got, err := resolveEngine(tc.host, tc.context, func(k string) string { return env[k] })
			if tc.want.problem != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want.problem)
				assert.NotContains(t, err.Error(), "hunter2")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want.host, got.host)
			require.Equal(t, tc.want.tls, got.tls != nil, "TLS")
			if got.tls != nil {
				assert.Equal(t, tc.want.verify, !got.tls.InsecureSkipVerify, "verify")
				assert.Equal(t, tc.want.clientCert, len(got.tls.Certificates) == 1, "client certificate")
			}
		})
	}
}

func TestMalformedConfigFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte("{"), 0o600))
	_, err := resolveEngine("", "", func(k string) string { return map[string]string{"DOCKER_CONFIG": dir}[k] })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "fix the file's JSON, or set DOCKER_HOST")
}

func TestEngineClientOptions(t *testing.T) {
	p := newTestPEM(t)
	dir := engineConfigDir(t, p, "")
	cases := []struct {
		host, context string
		daemonHost    string
	}{
		{host: "tcp://10.1.2.3:2375", daemonHost: "tcp://10.1.2.3:2375"},
		{host: "unix:///run/docker.sock", daemonHost: "unix:///run/docker.sock"},
		{context: "remote", daemonHost: "tcp://swarm.example:2376"},
		{host: "ssh://root@10.1.2.3", daemonHost: "http://docker.example.com"}, // the requests' name: the ssh command is the connection
	}
	for _, tc := range cases {
		target, err := resolveEngine(tc.host, tc.context, func(k string) string { return map[string]string{"DOCKER_CONFIG": dir}[k] })
		require.NoError(t, err)
		opts, err := target.clientOpts(nil)
		require.NoError(t, err)
		c, err := client.New(opts...)
		require.NoError(t, err)
		assert.Equal(t, tc.daemonHost, c.DaemonHost())
		_ = c.Close()
	}
}

func TestEngineOptions(t *testing.T) {
	dir := engineConfigDir(t, newTestPEM(t), "")
	t.Setenv("DOCKER_CONFIG", dir)
	cases := []struct {
		opts    []RunnerOption
		problem string
	}{
		{opts: []RunnerOption{WithHost("tcp://10.1.2.3:2375")}},
		{opts: []RunnerOption{WithContext("remote")}},
		{opts: []RunnerOption{WithContext("nope")}, problem: `oneshot: context "nope" (from WithContext("nope")): no such context`},
		{opts: []RunnerOption{WithHost("")}, problem: `WithHost(""): empty`},
		{opts: []RunnerOption{WithHost("tcp://10.1.2.3:2375"), WithContext("remote")}, problem: "the engine is already chosen"},
		{opts: []RunnerOption{WithClient(&client.Client{}), WithHost("tcp://10.1.2.3:2375")}, problem: "the engine is already chosen"},
	}
	for _, tc := range cases {
		r, err := NewRunner(tc.opts...)
		if tc.problem != "" {
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.problem)
			continue
		}
		require.NoError(t, err)
		require.NoError(t, r.Close())
	}
}
