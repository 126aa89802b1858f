// Command jobkit is the small static program inside the images that oneshot's
// tests, demo and benchmarks run as jobs. Each sub-command does one thing a job
// might do, so a test can script a job without a shell in the image:
//
//	jobkit exit CODE            exit with CODE
//	jobkit echo WORD...         print the words to stdout
//	jobkit stderr WORD...       print the words to stderr
//	jobkit sleep DURATION       sleep, e.g. 30s
//	jobkit env [NAME...]        print the environment, or the named variables
//	jobkit cat PATH...          copy files to stdout
//	jobkit write PATH TEXT      write TEXT to the file at PATH
//	jobkit spew MIB [SEED]      write MIB MiB of deterministic bytes to stdout
//	jobkit mixed N              N numbered lines, alternating stdout and stderr
//	jobkit lines MIB [SEED]     about MIB MiB of deterministic lines of 1 B to 1 MiB on both streams
//	jobkit line N               one line of N bytes on stdout
//	jobkit onterm DURATION TEXT from now on, SIGTERM prints TEXT, lasts DURATION more, then exits 143
//	jobkit fetch URL            GET URL and print the body
//	jobkit serve ADDR DIR       serve DIR over HTTP on ADDR (a service, not a job)
//	jobkit waitfile PATH        wait until the file at PATH exists
//	jobkit demo                 what `make demo` shows
//
// Sub-commands may be chained with "--": `jobkit echo hi -- exit 3`. In
// every argument, $NAME or ${NAME} is the environment variable NAME's value, and
// ${NAME%K} and ${NAME*K} its integer value modulo or times K, so that the
// tasks of one job can differ: `jobkit exit '${ONESHOT_TASK_INDEX%3}'`.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oneshot-go/oneshot/internal/spew"
)

func main() {
	exitOnSignal()
	args, err := expandAll(os.Args[1:])
	if err != nil {
		fmt.Fprintln(stderr, "jobkit:", err)
		os.Exit(2)
	}
	for _, cmd := range splitCommands(args) {
		if err := run(cmd); err != nil {
			fmt.Fprintln(stderr, "jobkit:", err)
			os.Exit(2)
		}
	}
}

// onSignal is what SIGTERM and SIGINT do; exitOnSignal sets the default.
var onSignal atomic.Pointer[func(os.Signal)]

// exitOnSignal makes SIGTERM and SIGINT end the program at once, as a
// well-behaved job does (as PID 1 of its container it would otherwise
// ignore them and be killed only after the stop grace period), unless
// `onterm` said otherwise.
func exitOnSignal() {
	exit := func(sig os.Signal) {
		lastWords(os.Stderr, 128+int(sig.(syscall.Signal)), "jobkit: stopped by %v\n", sig)
	}
	onSignal.Store(&exit)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-signals
		(*onSignal.Load())(sig)
	}()
}

// onTerm makes a signal print text on stdout, then lets the program run
// for d more (a job finishing its work before it stops), then exit.
func onTerm(args []string) error {
	d, err := time.ParseDuration(arg(args, 0, "1s"))
	if err != nil {
		return err
	}
	text := arg(args, 1, "stopping")
	slow := func(sig os.Signal) {
		fmt.Fprintln(stdout, text)
		time.Sleep(d)
		lastWords(os.Stdout, 128+int(sig.(syscall.Signal)), "stopped by %v after %s\n", sig, d)
	}
	onSignal.Store(&slow)
	return nil
}

// splitCommands cuts the arguments at each "--".
func splitCommands(args []string) [][]string {
	var cmds [][]string
	start := 0
	for i, a := range args {
		if a == "--" {
			cmds = append(cmds, args[start:i])
			start = i + 1
		}
	}
	return append(cmds, args[start:])
}

func run(cmd []string) error {
	if len(cmd) == 0 {
		return fmt.Errorf("no sub-command; see the package comment")
	}
	args := cmd[1:]
	switch cmd[0] {
	case "exit":
		code, err := strconv.Atoi(arg(args, 0, "0"))
		if err != nil {
			return err
		}
		os.Exit(code)
	case "echo":
		fmt.Fprintln(stdout, strings.Join(args, " "))
	case "stderr":
		fmt.Fprintln(stderr, strings.Join(args, " "))
	case "sleep":
		d, err := time.ParseDuration(arg(args, 0, "1s"))
		if err != nil {
			return err
		}
		time.Sleep(d)
	case "env":
		printEnv(args)
	case "cat":
		return catFiles(args)
	case "write":
		return os.WriteFile(arg(args, 0, ""), []byte(arg(args, 1, "")), 0o644)
	case "spew":
		return writeSpew(args)
	case "mixed":
		return mixed(args)
	case "lines":
		return writeLines(args)
	case "line":
		return writeLine(args)
	case "onterm":
		return onTerm(args)
	case "waitfile":
		return waitFile(arg(args, 0, ""))
	case "fetch":
		return fetch(arg(args, 0, ""))
	case "serve":
		return http.ListenAndServe(arg(args, 0, ":8080"), http.FileServer(http.Dir(arg(args, 1, "/"))))
	case "demo":
		demo()
	default:
		return fmt.Errorf("unknown sub-command %q", cmd[0])
	}
	return nil
}

func arg(args []string, i int, def string) string {
	if i < len(args) {
		return args[i]
	}
	return def
}

func printEnv(names []string) {
	if len(names) == 0 {
		env := os.Environ()
		sort.Strings(env)
		for _, kv := range env {
			fmt.Fprintln(stdout, kv)
		}
		return
	}
	for _, n := range names {
		fmt.Fprintf(stdout, "%s=%s\n", n, os.Getenv(n))
	}
}

func catFiles(paths []string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(stdout, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// writeSpew writes MIB MiB of printable, line-broken, deterministic bytes: line i
// of the output is the same for a given seed every time, so a test can compare
// what it captured with what it computes itself (see Spew in jobkit_test.go).
func writeSpew(args []string) error {
	mib, seed, err := sizeAndSeed(args)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	if _, err := w.Write(spew.Bytes(mib<<20, seed)); err != nil {
		return err
	}
	return w.Flush()
}

func mixed(args []string) error {
	n, err := strconv.Atoi(arg(args, 0, "10"))
	if err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		if i%2 == 1 {
			fmt.Fprintf(stdout, "out %d\n", i)
		} else {
			fmt.Fprintf(stderr, "err %d\n", i)
		}
	}
	return nil
}

func fetch(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(stdout, resp.Body)
	return err
}

func demo() {
	host, _ := os.Hostname()
	fmt.Fprintf(stdout, "hello from a oneshot job in container %s\n", host)
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(stdout, "working... step %d of 3\n", i)
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintln(stderr, "this line went to stderr")
	fmt.Fprintln(stdout, "done; exiting with code 3 to show that exit codes come through")
	os.Exit(3)
}

// writeLines writes spew.Lines: each line in one write to its stream.
func writeLines(args []string) error {
	mib, seed, err := sizeAndSeed(args)
	if err != nil {
		return err
	}
	for _, w := range spew.Lines(mib<<20, seed) {
		out := stdout
		if w.Stderr {
			out = stderr
		}
		if _, err := out.Write(w.Data); err != nil {
			return err
		}
	}
	return nil
}

// sizeAndSeed reads the MIB and SEED arguments of spew and lines.
func sizeAndSeed(args []string) (mib, seed int, err error) {
	if mib, err = strconv.Atoi(arg(args, 0, "1")); err != nil {
		return 0, 0, err
	}
	seed, err = strconv.Atoi(arg(args, 1, "0"))
	return mib, seed, err
}

// writeLine writes one line of N bytes ('a' to 'z' over and over) to stdout.
func writeLine(args []string) error {
	n, err := strconv.Atoi(arg(args, 0, "1"))
	if err != nil {
		return err
	}
	line := make([]byte, n+1)
	for i := range n {
		line[i] = byte('a' + i%26)
	}
	line[n] = '\n'
	_, err = stdout.Write(line)
	return err
}

// expandAll expands ${NAME}, ${NAME%K} and ${NAME*K} in each argument from
// the environment.
func expandAll(args []string) ([]string, error) {
	var bad error
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = os.Expand(a, func(ref string) string {
			v, err := expandRef(ref)
			if err != nil && bad == nil {
				bad = err
			}
			return v
		})
	}
	return out, bad
}

// expandRef is the value of one ${...}: a variable, or its integer value
// modulo or times a number.
func expandRef(ref string) (string, error) {
	for _, op := range []string{"%", "*"} {
		name, k, ok := strings.Cut(ref, op)
		if !ok {
			continue
		}
		v, err1 := strconv.Atoi(os.Getenv(name))
		n, err2 := strconv.Atoi(k)
		if err1 != nil || err2 != nil || (op == "%" && n == 0) {
			return "", fmt.Errorf("cannot expand ${%s}", ref)
		}
		if op == "%" {
			return strconv.Itoa(v % n), nil
		}
		return strconv.Itoa(v * n), nil
	}
	return os.Getenv(ref), nil
}

// waitFile waits until the file at path exists: a test opens a gate for a
// job by making the file (a bind-mounted directory).
func waitFile(path string) error {
	if path == "" {
		return fmt.Errorf("waitfile needs a path")
	}
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}
