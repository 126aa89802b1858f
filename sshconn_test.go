package oneshot

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test binary doubles as the commands the connections run: with
// ONESHOT_TEST_FAKE_COMMAND set, it is that command instead of the tests.
func init() {
	if mode := os.Getenv("ONESHOT_TEST_FAKE_COMMAND"); mode != "" {
		os.Exit(fakeCommand(mode, os.Args[1:]))
	}
}

// fakeCommand is what the test binary does as a command: "echo" copies
// stdin to stdout, "fail" says no on stderr and exits 255 as ssh does,
// "hang" waits for a signal, "engine" answers HTTP requests on stdio as
// `docker system dial-stdio` relays the engine's answers. Each writes its
// arguments to $ONESHOT_TEST_FAKE_ARGS, if set.
func fakeCommand(mode string, args []string) int {
	if path := os.Getenv("ONESHOT_TEST_FAKE_ARGS"); path != "" {
		_ = os.WriteFile(path, []byte(strings.Join(args, "\n")), 0o600)
	}
	switch mode {
	case "echo":
		_, _ = io.Copy(os.Stdout, os.Stdin)
	case "fail":
		fmt.Fprintln(os.Stderr, "root@engine.example: Permission denied (publickey).")
		return 255
	case "hang":
		select {}
	case "engine":
		pingOverStdio(os.Stdin, os.Stdout)
	}
	return 0
}

// pingOverStdio answers every HTTP request it reads as an engine of API 1.41
// answers /_ping.
func pingOverStdio(in io.Reader, out io.Writer) {
	r := bufio.NewReader(in)
	for {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		body := "OK"
		if req.Method == http.MethodHead {
			body = ""
		}
		fmt.Fprintf(out, "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n%s", body)
	}
}

// fakeSSH puts the test binary on PATH as ssh, acting as mode, and
// returns the file where it writes its arguments.
func fakeSSH(t *testing.T, mode string) string {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.Symlink(self, filepath.Join(dir, "ssh")))
	t.Setenv("PATH", dir)
	t.Setenv("ONESHOT_TEST_FAKE_COMMAND", mode)
	args := filepath.Join(dir, "args")
	t.Setenv("ONESHOT_TEST_FAKE_ARGS", args)
	return args
}

// startFake starts the test binary as a command acting as mode.
func startFake(t *testing.T, mode string) *commandConn {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	t.Setenv("ONESHOT_TEST_FAKE_COMMAND", mode)
	c, err := startCommandConn("check the fake", self, "-fake")
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestParseSSHHost(t *testing.T) {
	cases := []struct {
		host    string
		args    string // ssh's arguments, space-separated
		problem string
	}{
		{host: "ssh://build.example", args: "-o ConnectTimeout=30 -T -- build.example docker system dial-stdio"},
		{host: "ssh://deploy@10.0.0.7:2222", args: "-l deploy -p 2222 -o ConnectTimeout=30 -T -- 10.0.0.7 docker system dial-stdio"},
		{host: "ssh://[fd00::7]:22", args: "-p 22 -o ConnectTimeout=30 -T -- fd00::7 docker system dial-stdio"},
		{host: "ssh://me@host/run/user/1000/docker.sock", args: "-l me -o ConnectTimeout=30 -T -- host docker '--host=unix:///run/user/1000/docker.sock' system dial-stdio"},
		{host: "ssh://me:secret@host", problem: "passwords are not supported"},
		{host: "ssh://host?x=1", problem: "no query or fragment"},
		{host: "ssh://host:99999", problem: `port "99999"`},
		{host: "ssh://-oProxyCommand=x", problem: "bad or missing host name"},
		{host: "ssh://", problem: "bad or missing host name"},
		{host: "ssh://-l@host", problem: `bad user name "-l"`},
	}
	for _, tc := range cases {
		spec, err := parseSSHHost(tc.host)
		if tc.problem != "" {
			require.Error(t, err, tc.host)
			assert.Contains(t, err.Error(), tc.problem, tc.host)
			assert.NotContains(t, err.Error(), "secret", tc.host)
			continue
		}
		require.NoError(t, err, tc.host)
		assert.Equal(t, tc.args, strings.Join(spec.args(), " "), tc.host)
	}
}

func TestCommandConnCarriesBytesBothWays(t *testing.T) {
	c := startFake(t, "echo")
	_, err := c.Write([]byte("ping\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ping\n", line)

	require.NoError(t, c.CloseWrite()) // the command reads the end of its input, and exits 0
	_, err = io.ReadAll(c)
	assert.NoError(t, err, "a command that exits 0 ends the connection with a plain EOF")
	require.NoError(t, c.Close())
}

func TestCommandConnSaysWhyTheCommandFailed(t *testing.T) {
	c := startFake(t, "fail")
	_, err := io.ReadAll(c)
	require.Error(t, err)
	for _, want := range []string{"exit status 255", "it said: root@engine.example: Permission denied (publickey).", "check the fake"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestCommandConnCloseStopsTheCommand(t *testing.T) {
	c := startFake(t, "hang")
	require.NoError(t, c.Close())
	select {
	case <-c.exited:
	default:
		t.Fatal("Close returned before the command exited")
	}
	_, err := c.Read(make([]byte, 1))
	assert.Error(t, err)
}

func TestCommandConnDeadlines(t *testing.T) {
	c := startFake(t, "hang")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
	_, err := c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	cases := []struct {
		max    int
		writes []string
		said   string
	}{
		{max: 10, writes: nil, said: ""},
		{max: 10, writes: []string{"  \n"}, said: ""},
		{max: 100, writes: []string{"Warning: added key\n", "denied\n"}, said: ": it said: Warning: added key denied"},
		{max: 10, writes: []string{"0123456789", "abcdef"}, said: ": it said: 6789abcdef"},
	}
	for _, tc := range cases {
		b := &tailBuffer{tail: tail{size: tc.max}}
		for _, w := range tc.writes {
			_, _ = b.Write([]byte(w))
		}
		assert.Equal(t, tc.said, b.said(), tc.writes)
	}
}

func TestSSHHostThroughTheSSHClient(t *testing.T) {
	argsFile := fakeSSH(t, "engine")
	opts, err := clientOptsForHost("ssh://deploy@engine.example:2222")
	require.NoError(t, err)
	c, err := client.New(opts...)
	require.NoError(t, err)
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ping, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	require.NoError(t, err)
	assert.Equal(t, "1.41", ping.APIVersion)
	args, err := os.ReadFile(argsFile)
	require.NoError(t, err)
	assert.Equal(t, "-l deploy -p 2222 -o ConnectTimeout=30 -T -- engine.example docker system dial-stdio", strings.ReplaceAll(string(args), "\n", " "))
}

func TestSSHHostFailureNamesTheCause(t *testing.T) {
	fakeSSH(t, "fail")
	opts, err := clientOptsForHost("ssh://root@engine.example")
	require.NoError(t, err)
	c, err := client.New(opts...)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Ping(context.Background(), client.PingOptions{})
	require.Error(t, err)
	for _, want := range []string{"Permission denied (publickey)", "exit status 255", "`ssh -l root engine.example docker version` works"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestSSHHostWithoutSSHClient(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := clientOptsForHost("ssh://root@engine.example")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "needs the OpenSSH client on PATH")
}

func TestClosingAClientStopsItsSSHCommands(t *testing.T) {
	fakeSSH(t, "hang")
	live := &commandConns{}
	dial, err := sshDialer("ssh://root@engine.example", live)
	require.NoError(t, err)
	var conns []*commandConn
	for range 3 {
		c, err := dial(context.Background(), "tcp", "docker.example.com:80")
		require.NoError(t, err)
		conns = append(conns, c.(*commandConn))
	}
	require.NoError(t, conns[0].Close()) // closed by the HTTP client: no longer live
	assert.Len(t, live.live, 2)

	live.closeAll()
	assert.Empty(t, live.live)
	for _, c := range conns {
		select {
		case <-c.exited:
		default:
			t.Fatal("closeAll returned before a command exited")
		}
	}
}
