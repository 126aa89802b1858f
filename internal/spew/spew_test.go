package spew

import (
	"bytes"
	"testing"
)

func TestBytesIsDeterministicLinesOfPrintables(t *testing.T) {
	a, b := Bytes(100_000, 7), Bytes(100_000, 7)
	if !bytes.Equal(a, b) || len(a) != 100_000 {
		t.Fatalf("Bytes(100000, 7) is not the same %d bytes twice", len(a))
	}
	if bytes.Equal(a, Bytes(100_000, 8)) {
		t.Fatal("two seeds give the same bytes")
	}
	for _, c := range a {
		if c != '\n' && (c < '!' || c > '~') {
			t.Fatalf("byte %q is neither printable nor a newline", c)
		}
	}
}

func TestLinesCoverTheSizesOnBothStreams(t *testing.T) {
	writes := Lines(4<<20, 3)
	sizes := map[int]bool{}
	streams := map[bool]bool{}
	total := 0
	for _, w := range writes[:len(writes)-2] {
		sizes[len(w.Data)-1] = true
		streams[w.Stderr] = true
		total += len(w.Data)
		if w.Data[len(w.Data)-1] != '\n' {
			t.Fatalf("a line without its newline: %d bytes", len(w.Data))
		}
	}
	for _, size := range LineSizes {
		if !sizes[size] {
			t.Errorf("no line of %d bytes", size)
		}
	}
	if !streams[false] || !streams[true] {
		t.Error("not on both streams")
	}
	if total < 4<<20 {
		t.Errorf("%d bytes, want at least 4 MiB", total)
	}
	stdout, stderr := Streams(writes)
	if !bytes.HasSuffix(stdout, []byte("no newline at the end")) || !bytes.HasSuffix(stderr, []byte("no newline at the end")) {
		t.Error("each stream should end without a newline")
	}
}
