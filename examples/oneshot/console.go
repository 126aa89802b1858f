package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
)

// console writes the job's output and oneshot's own lines (progress, notes)
// so that oneshot's lines never land inside a line of the job's: a line of
// oneshot's waits while a job stream that shares its screen (or file) is in
// the middle of a line, and goes out as soon as that line ends.
type console struct {
	mu   sync.Mutex
	own  io.Writer // where oneshot's lines go: stderr
	busy []bool    // per job stream that shares own's screen: mid-line
	held []string
	// endLine says the job's output ended mid-line: the next line of
	// oneshot's needs a newline first.
	endLine bool
}

// newConsole returns a console whose own lines go to w.
func newConsole(w io.Writer) *console { return &console{own: w} }

// stream returns the writer for a job stream that writes to w. sharesScreen
// says whether w ends up where the console's own lines do (the same
// terminal, pipe or file).
func (c *console) stream(w io.Writer, sharesScreen bool) io.Writer {
	if !sharesScreen {
		return w
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = append(c.busy, false)
	return &consoleStream{c: c, w: w, i: len(c.busy) - 1}
}

// Println writes one line of oneshot's own, now or once the job's current
// line is complete.
func (c *console) Println(a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = append(c.held, fmt.Sprintln(a...))
	c.flush()
}

// Finish tells the console the job's output is over: the lines held and to
// come go out at once, after a newline if the job left its last line
// unfinished, so that they start on lines of their own.
func (c *console) Finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLine = c.midLine()
	clear(c.busy)
	c.flush()
}

// midLine reports whether a job stream is in the middle of a line.
func (c *console) midLine() bool {
	for _, b := range c.busy {
		if b {
			return true
		}
	}
	return false
}

// flush writes the held lines unless a job stream is mid-line. The caller
// holds mu.
func (c *console) flush() {
	if c.midLine() {
		return
	}
	if c.endLine && len(c.held) > 0 {
		c.held[0] = "\n" + c.held[0]
		c.endLine = false
	}
	for _, line := range c.held {
		_, _ = io.WriteString(c.own, line) // stderr gone: nothing better to do
	}
	c.held = c.held[:0]
}

// consoleStream is one job stream written through a console.
type consoleStream struct {
	c *console
	w io.Writer
	i int
}

// Write writes the job's bytes and notes whether they end a line. When
// lines of oneshot's wait, the bytes are written in two parts, cut after
// their last newline, so that those lines go out between the two.
func (s *consoleStream) Write(p []byte) (int, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if i := bytes.LastIndexByte(p, '\n'); len(s.c.held) > 0 && i >= 0 && i < len(p)-1 {
		n, err := s.write(p[:i+1])
		if err != nil {
			return n, err
		}
		m, err := s.write(p[i+1:])
		return n + m, err
	}
	return s.write(p)
}

// write writes p, notes whether it ends a line, and writes the held lines
// if it may. The caller holds mu.
func (s *consoleStream) write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if n > 0 {
		s.c.busy[s.i] = p[n-1] != '\n'
	}
	s.c.flush()
	return n, err
}

// sameFile reports whether a and b are the same open file: the same
// terminal, pipe or file (as with `2>&1`).
func sameFile(a, b *os.File) bool {
	ai, errA := a.Stat()
	bi, errB := b.Stat()
	return errA == nil && errB == nil && os.SameFile(ai, bi)
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
