package oneshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// An ssh:// engine is reached as the docker CLI reaches it (docker/cli
// cli/connhelper): every connection is a new `ssh [-l USER] [-p PORT] --
// HOST docker system dial-stdio`, the ssh client's stdin and stdout being
// the connection. Who may log in, with which key, and which host keys are
// trusted is the ssh client's business: its configuration (~/.ssh/config,
// /etc/ssh/ssh_config), its agent (SSH_AUTH_SOCK), its known_hosts. The
// command runs in a session of its own, so that a Ctrl-C on the terminal
// does not cut the connection that removes the job's service; it cannot
// prompt for a passphrase or a host key there.

// sshSpec is an ssh://[USER@]HOST[:PORT][/SOCKET] engine address.
type sshSpec struct {
	user, host, port string
	// socket is the engine's socket on the host; empty for docker's own
	// default.
	socket string
}

// parseSSHHost checks an ssh:// address as the docker CLI does: no
// password, query or fragment; a host, and a port if any that is a number.
func parseSSHHost(raw string) (sshSpec, error) {
	const want = "want ssh://[USER@]HOST[:PORT]"
	u, err := url.Parse(raw)
	if err != nil {
		return sshSpec{}, fmt.Errorf("malformed ssh host %q: %w; %s", raw, errors.Unwrap(err), want)
	}
	s := sshSpec{host: u.Hostname(), port: u.Port(), socket: strings.TrimSuffix(u.Path, "/")}
	if u.User != nil {
		s.user = u.User.Username()
		if _, ok := u.User.Password(); ok {
			return sshSpec{}, fmt.Errorf("ssh host %q has a password: passwords are not supported, use a key (ssh-agent, or IdentityFile in ~/.ssh/config)", u.Redacted())
		}
	}
	switch {
	case u.Scheme != "ssh":
		return sshSpec{}, fmt.Errorf("malformed ssh host %q: %s", raw, want)
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return sshSpec{}, fmt.Errorf("malformed ssh host %q: no query or fragment allowed; %s", raw, want)
	case !safeSSHWord(s.host):
		return sshSpec{}, fmt.Errorf("malformed ssh host %q: bad or missing host name; %s", raw, want)
	case s.user != "" && !safeSSHWord(s.user):
		return sshSpec{}, fmt.Errorf("malformed ssh host %q: bad user name %q", raw, s.user)
	}
	if n, err := strconv.Atoi(s.port); s.port != "" && (err != nil || n < 1 || n > 65535) {
		return sshSpec{}, fmt.Errorf("malformed ssh host %q: port %q is not a port number", raw, s.port)
	}
	return s, nil
}

// safeSSHWord says whether w may be given to ssh as a user or host name:
// not empty, not taken for an option, no space, quote or control
// character.
func safeSSHWord(w string) bool {
	return w != "" && !strings.HasPrefix(w, "-") && !strings.ContainsFunc(w, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`'"\$;&|<>()`+"`", r)
	})
}

// args are the ssh client's arguments: the docker CLI's, with the remote
// command (run by the remote user's shell) quoted.
func (s sshSpec) args() []string {
	args := append(s.login(), "-o", "ConnectTimeout=30", "-T", "--", s.host, "docker")
	if s.socket != "" {
		args = append(args, shellQuote("--host=unix://"+s.socket))
	}
	return append(args, "system", "dial-stdio")
}

// login is the user and port arguments of ssh.
func (s sshSpec) login() []string {
	var args []string
	if s.user != "" {
		args = append(args, "-l", s.user)
	}
	if s.port != "" {
		args = append(args, "-p", s.port)
	}
	return args
}

// shellQuote quotes w for a POSIX shell.
func shellQuote(w string) string {
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// sshDialer returns the dialer of an ssh:// engine: each connection is a
// new ssh command, kept in live (if not nil) until it is closed. It fails
// at once when there is no ssh client.
func sshDialer(host string, live *commandConns) (func(context.Context, string, string) (net.Conn, error), error) {
	spec, err := parseSSHHost(host)
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		return nil, fmt.Errorf("%s needs the OpenSSH client on PATH (Debian: apt-get install openssh-client): %w", host, err)
	}
	args := spec.args()
	hint := fmt.Sprintf("check that `%s` works from here without a prompt (key, known_hosts), and that the host has docker 18.09 or later",
		strings.Join(append(append([]string{"ssh"}, spec.login()...), spec.host, "docker", "version"), " "))
	return func(context.Context, string, string) (net.Conn, error) {
		c, err := startCommandConn(hint, "ssh", args...)
		if err != nil {
			return nil, err
		}
		live.add(c)
		return c, nil
	}, nil
}

// commandConns are the live connections of one client, so that closing
// the client stops their commands: those idle, and those a stream or a
// request still held.
type commandConns struct {
	mu   sync.Mutex
	live map[*commandConn]bool
}

func (s *commandConns) add(c *commandConn) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		s.live = map[*commandConn]bool{}
	}
	s.live[c] = true
	c.onClose = func() { s.remove(c) }
}

func (s *commandConns) remove(c *commandConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, c)
}

// closeAll closes every live connection and returns once their commands
// have exited.
func (s *commandConns) closeAll() {
	s.mu.Lock()
	conns := make([]*commandConn, 0, len(s.live))
	for c := range s.live {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { _ = c.Close() })
	}
	wg.Wait()
}

// commandExitWait bounds how long a connection that read the end of the
// command's output waits for the command to exit, to say why it ended.
const commandExitWait = 10 * time.Second

// commandStopWait is how long Close lets the command exit after SIGTERM
// before it kills it.
const commandStopWait = 3 * time.Second

// commandConn is a net.Conn over a command: what is written goes to its
// stdin, what it prints on stdout is read. What it prints on stderr is
// kept (the end of it) for the error that says why the connection ended.
type commandConn struct {
	cmd    *exec.Cmd
	stdin  *os.File // written: the command's stdin
	stdout *os.File // read: the command's stdout
	stderr *tailBuffer
	hint   string // what to check when the command fails
	// onClose, if set, is called by Close.
	onClose func()

	exited  chan struct{} // closed once the command has exited
	waitErr error         // how it exited; set before exited is closed

	closing   atomic.Bool
	closeOnce sync.Once
}

var _ net.Conn = (*commandConn)(nil)

// startCommandConn starts name with args and returns the connection over
// it. The command lives until the connection is closed, not as long as
// a context: the HTTP client keeps idle connections for later requests.
func startCommandConn(hint, name string, args ...string) (*commandConn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, err
	}
	c := &commandConn{stdin: inW, stdout: outR, stderr: &tailBuffer{tail: tail{size: 4096}}, hint: hint, exited: make(chan struct{})}
	c.cmd = exec.Command(name, args...)
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = inR, outW, c.stderr
	c.cmd.SysProcAttr = commandProcAttr()
	c.cmd.WaitDelay = time.Second // a child left holding stderr must not hold Wait
	err = c.cmd.Start()
	closeAll(inR, outW) // the command's ends
	if err != nil {
		closeAll(inW, outR)
		return nil, fmt.Errorf("start %s: %w", c.describe(), err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// describe names the command in errors.
func (c *commandConn) describe() string {
	return "`" + strings.Join(c.cmd.Args, " ") + "`"
}

// Read reads what the command printed. At the end of its output, it says
// why the command ended if it failed.
func (c *commandConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if err != nil && !c.closing.Load() {
		err = c.ended(err)
	}
	return n, err
}

// Write writes to the command's stdin; when the command is gone, it says
// why.
func (c *commandConn) Write(p []byte) (int, error) {
	n, err := c.stdin.Write(p)
	if err != nil && !c.closing.Load() {
		err = c.ended(err)
	}
	return n, err
}

// ended returns the error of a connection whose command stopped reading or
// printing (cause): the command's failure if it failed, cause otherwise.
func (c *commandConn) ended(cause error) error {
	if !errors.Is(cause, io.EOF) && !errors.Is(cause, syscall.EPIPE) {
		return cause
	}
	t := time.NewTimer(commandExitWait)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		return fmt.Errorf("%s closed its output but did not exit within %s%s", c.describe(), commandExitWait, c.stderr.said())
	}
	if c.waitErr == nil {
		return cause
	}
	return fmt.Errorf("%s failed (%w)%s; %s", c.describe(), c.waitErr, c.stderr.said(), c.hint)
}

// CloseWrite closes the command's stdin: it reads the end of its input.
func (c *commandConn) CloseWrite() error { return c.stdin.Close() }

// CloseRead stops reading the command's output.
func (c *commandConn) CloseRead() error { return c.stdout.Close() }

// Close closes both ends and stops the command: SIGTERM, then SIGKILL if
// it has not exited after commandStopWait. It returns once the command
// has exited.
func (c *commandConn) Close() error {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		if c.onClose != nil {
			c.onClose()
		}
		closeAll(c.stdin, c.stdout)
		select {
		case <-c.exited:
			return
		default:
		}
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = c.cmd.Process.Kill()
		}
		t := time.NewTimer(commandStopWait)
		defer t.Stop()
		select {
		case <-c.exited:
		case <-t.C:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
	return nil
}

// LocalAddr names this end of the connection: the process.
func (c *commandConn) LocalAddr() net.Addr { return commandAddr("oneshot") }

// RemoteAddr names the other end: the command.
func (c *commandConn) RemoteAddr() net.Addr { return commandAddr(strings.Join(c.cmd.Args, " ")) }

// SetDeadline sets the read and write deadlines.
func (c *commandConn) SetDeadline(t time.Time) error {
	return errors.Join(c.stdout.SetReadDeadline(t), c.stdin.SetWriteDeadline(t))
}

// SetReadDeadline sets the deadline of reads from the command's stdout.
func (c *commandConn) SetReadDeadline(t time.Time) error { return c.stdout.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline of writes to the command's stdin.
func (c *commandConn) SetWriteDeadline(t time.Time) error { return c.stdin.SetWriteDeadline(t) }

// commandAddr is the address of either end of a commandConn.
type commandAddr string

func (a commandAddr) Network() string { return "command" }
func (a commandAddr) String() string  { return string(a) }

// tailBuffer keeps the last bytes written to it (output.go's tail), for
// a command's stderr written and read from different goroutines.
type tailBuffer struct {
	mu   sync.Mutex
	tail tail
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tail.write(p)
	return len(p), nil
}

// said is what the command printed on stderr, as ": it said: ...", or
// nothing.
func (b *tailBuffer) said() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(string(b.tail.bytes()))
	if s == "" {
		return ""
	}
	return ": it said: " + strings.Join(strings.Fields(s), " ")
}
