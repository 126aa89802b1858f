package spew

// LineSizes are the line lengths that Lines cycles through, chosen where
// the engine's log copier cuts (16 KiB), around it, and well beyond it.
var LineSizes = []int{1, 80, 16<<10 - 1, 16 << 10, 16<<10 + 1, 200, 64 << 10, 0, 1 << 20, 3, 100<<10 + 7}

// Write is one write of a job's output: Data goes to stderr when Stderr
// is set, else to stdout.
type Write struct {
	Stderr bool
	Data   []byte
}

// Lines returns the writes of `jobkit lines MIB SEED`: about n bytes in all,
// in lines of the LineSizes (newline included) sent to stdout or stderr in
// a deterministic mix, each line in one write; the last write of each
// stream has no trailing newline.
func Lines(n, seed int) []Write {
	var writes []Write
	x := uint32(seed*2654435761 + 7)
	next := func() uint32 { x = x*1664525 + 1013904223; return x }
	total := 0
	for i := 0; total < n; i++ {
		size := LineSizes[i%len(LineSizes)]
		line := make([]byte, size+1)
		for j := range size {
			line[j] = byte('!' + (next()>>25)%94)
		}
		line[size] = '\n'
		writes = append(writes, Write{Stderr: next()>>31 == 1, Data: line})
		total += len(line)
	}
	for _, stderr := range []bool{false, true} {
		writes = append(writes, Write{Stderr: stderr, Data: []byte("no newline at the end")})
	}
	return writes
}

// Streams returns what writes put on stdout and on stderr.
func Streams(writes []Write) (stdout, stderr []byte) {
	for _, w := range writes {
		if w.Stderr {
			stderr = append(stderr, w.Data...)
		} else {
			stdout = append(stdout, w.Data...)
		}
	}
	return stdout, stderr
}
