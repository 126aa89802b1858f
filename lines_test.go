package oneshot

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSharedLinesKeepEachLineWhole(t *testing.T) {
	var out bytes.Buffer
	shared := newSharedLines(&out)
	a, b := shared.forTask("[0] "), shared.forTask("[1] ")
	writes := []struct {
		w    any
		text string
	}{{a, "first "}, {b, "other\nsecond "}, {a, "half\nnext"}, {b, "line\n"}}
	for _, wr := range writes {
		_, err := wr.w.(*taskLines).Write([]byte(wr.text))
		assert.NoError(t, err)
	}
	shared.flush(a)
	shared.flush(b)
	assert.Equal(t, "[1] other\n[0] first half\n[1] second line\n[0] next\n", out.String(),
		"each line whole, after its task's prefix; the end of a task without a newline gets one")
}

func TestSharedLinesWriteALongLineInPieces(t *testing.T) {
	var out bytes.Buffer
	shared := newSharedLines(&out)
	w := shared.forTask("")
	long := strings.Repeat("x", maxLinePiece+10)
	_, _ = w.Write([]byte(long))
	assert.Equal(t, maxLinePiece+10, out.Len(), "a line without its end is not held back past maxLinePiece")
	_, _ = w.Write([]byte("\n"))
	assert.Equal(t, long+"\n", out.String())
}

func TestSharedLinesWithoutAWriter(t *testing.T) {
	assert.Nil(t, newSharedLines(nil).forTask("[0] "))
}

func TestSharedLinesFromManyTasksAtOnce(t *testing.T) {
	var out bytes.Buffer
	shared := newSharedLines(&out)
	var wg sync.WaitGroup
	for i := range 8 {
		w := shared.forTask(string(rune('a'+i)) + ":")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = w.Write([]byte("12345"))
				_, _ = w.Write([]byte("67890\n"))
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	assert.Len(t, lines, 800)
	for _, line := range lines {
		assert.Regexp(t, `^[a-h]:1234567890$`, line)
	}
}
