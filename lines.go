package oneshot

import (
	"bytes"
	"io"
	"sync"
)

// sharedLines is a writer of a job of several tasks (JobSpec.Stdout or
// Stderr) that its tasks write to at once: each task's output reaches it
// line by line, each line whole and, with WithTaskPrefix, after the task's
// prefix, so that lines of different tasks never mix within a line.
type sharedLines struct {
	mu sync.Mutex
	w  io.Writer
}

// maxLinePiece is where a line without its end yet is written in pieces,
// so that a task printing no newline does not hold its output back.
const maxLinePiece = 64 << 10

func newSharedLines(w io.Writer) *sharedLines { return &sharedLines{w: w} }

// forTask returns the writer of one task, nil when the job has none.
func (s *sharedLines) forTask(prefix string) io.Writer {
	if s.w == nil {
		return nil
	}
	return &taskLines{shared: s, prefix: []byte(prefix)}
}

// flush writes what a task that has ended left without a line end, and a
// line end after it.
func (s *sharedLines) flush(w io.Writer) {
	if l, ok := w.(*taskLines); ok && len(l.partial) > 0 {
		l.partial = append(l.partial, '\n')
		_ = l.writeLine(l.partial)
		l.partial = nil
	}
}

// taskLines is one task's writer on a sharedLines.
type taskLines struct {
	shared  *sharedLines
	prefix  []byte
	partial []byte // the start of a line whose end has not come yet
}

func (l *taskLines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		end := bytes.IndexByte(p, '\n')
		if end < 0 {
			l.partial = append(l.partial, p...)
			if len(l.partial) < maxLinePiece {
				return n, nil
			}
			piece := l.partial
			l.partial = nil
			return n, l.writeLine(piece)
		}
		line := append(l.partial, p[:end+1]...)
		l.partial = nil
		if err := l.writeLine(line); err != nil {
			return n, err
		}
		p = p[end+1:]
	}
	return n, nil
}

// writeLine writes the prefix and line under the shared lock, at once.
func (l *taskLines) writeLine(line []byte) error {
	s := l.shared
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(l.prefix) > 0 {
		line = append(append([]byte(nil), l.prefix...), line...)
	}
	_, err := s.w.Write(line)
	return err
}
