// Package spew makes deterministic output for tests: the jobkit image writes
// it (`jobkit spew MIB SEED`) and tests compute it again to compare what
// oneshot captured with what the job wrote, byte for byte.
package spew

// Bytes returns n deterministic bytes for seed: lines of 1 to 200 printable
// characters, each ending in a newline, the last one possibly cut short.
func Bytes(n, seed int) []byte {
	out := make([]byte, 0, n)
	x := uint32(seed*2654435761 + 1)
	for len(out) < n {
		x = x*1664525 + 1013904223
		lineLen := int(x>>24)%200 + 1
		for i := 0; i < lineLen && len(out) < n-1; i++ {
			x = x*1664525 + 1013904223
			out = append(out, byte('!'+(x>>25)%94))
		}
		out = append(out, '\n')
	}
	return out[:n]
}
