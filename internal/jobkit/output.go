package main

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// The job's output goes through stdout and stderr, whose writes a signal's
// exit stops for good before it prints its last words (lastWords): a job
// says it was stopped as the last thing it writes. (Without the lock, the
// goroutine writing the output went on for a few lines after the signal's
// goroutine had printed "jobkit: stopped by terminated", as a soak run saw.)
var (
	outMu          sync.Mutex
	stdout, stderr io.Writer = lockedWriter{os.Stdout}, lockedWriter{os.Stderr}
)

// lockedWriter writes to f unless the output is locked for the exit.
type lockedWriter struct{ f *os.File }

func (w lockedWriter) Write(p []byte) (int, error) {
	outMu.Lock()
	defer outMu.Unlock()
	return w.f.Write(p)
}

// lastWords locks the output, prints the message on f, and exits with code.
func lastWords(f *os.File, code int, format string, a ...any) {
	outMu.Lock()
	fmt.Fprintf(f, format, a...)
	os.Exit(code)
}
