package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConsoleKeepsItsLinesOutOfTheJobs(t *testing.T) {
	var screen strings.Builder
	con := newConsole(&screen)
	stdout, stderr := con.stream(&screen, true), con.stream(&screen, true)

	con.Println("oneshot: running")
	_, _ = io.WriteString(stdout, "half a ")
	con.Println("oneshot: held while stdout is mid-line")
	_, _ = io.WriteString(stderr, "err line\n")
	con.Println("oneshot: still held")
	_, _ = io.WriteString(stdout, "line\nand a partial")
	_, _ = io.WriteString(stdout, " one\n")
	con.Println("oneshot: at once")
	_, _ = io.WriteString(stderr, "no newline at the end")
	con.Println("oneshot: ended")
	con.Finish()
	con.Println("oneshot: after the end")

	assert.Equal(t, "oneshot: running\n"+
		"half a err line\n"+ // the job's own streams mix as they would without oneshot
		"line\n"+
		"oneshot: held while stdout is mid-line\n"+
		"oneshot: still held\n"+
		"and a partial one\n"+
		"oneshot: at once\n"+
		"no newline at the end\n"+
		"oneshot: ended\n"+
		"oneshot: after the end\n", screen.String())
}

func TestConsoleIgnoresStreamsElsewhere(t *testing.T) {
	var screen, file strings.Builder
	con := newConsole(&screen)
	stdout := con.stream(&file, false)
	_, _ = io.WriteString(stdout, "partial")
	con.Println("oneshot: not held")
	con.Finish()
	assert.Equal(t, "oneshot: not held\n", screen.String())
	assert.Equal(t, "partial", file.String())
}

func TestConsoleEndsTheJobsLastLineOnlyForALineOfItsOwn(t *testing.T) {
	var screen strings.Builder
	con := newConsole(&screen)
	_, _ = io.WriteString(con.stream(&screen, true), "partial")
	con.Finish()
	assert.Equal(t, "partial", screen.String(), "nothing added while oneshot has nothing to say")
	con.Println("oneshot: timed out")
	con.Println("oneshot: and more")
	assert.Equal(t, "partial\noneshot: timed out\noneshot: and more\n", screen.String())
}

func TestSameFileAndTerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	a, err := os.Create(path)
	require.NoError(t, err)
	defer a.Close()
	b, err := os.Open(path)
	require.NoError(t, err)
	defer b.Close()
	other, err := os.Create(path + "2")
	require.NoError(t, err)
	defer other.Close()
	assert.True(t, sameFile(a, b))
	assert.False(t, sameFile(a, other))
	assert.False(t, isTerminal(a), "a file is not a terminal")
}
