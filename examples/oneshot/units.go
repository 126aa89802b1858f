package main

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// sizePattern is docker's grammar for sizes (go-units' RAMInBytes): a
// number, an optional space, an optional unit k, m, g, t or p (powers of
// 1024), optionally followed by "i" and "b", in any case: 512m, 1.5g, 64MiB.
var sizePattern = regexp.MustCompile(`(?i)^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$`)

// parseBytes parses a size such as --memory and tmpfs-size take. Empty means
// zero. The whole part is exact (no float rounding); a fraction of the
// unit is cut to a whole byte; a size of 2^63 bytes or more is refused
// (it would overflow).
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size like 512m or 1g", s)
	}
	shift := 0
	if m[2] != "" {
		shift = 10 * (strings.Index("kmgtp", strings.ToLower(m[2])) + 1)
	}
	tooLarge := fmt.Errorf("%q is too large a size (at most %d bytes)", s, int64(math.MaxInt64))
	whole, frac, _ := strings.Cut(m[1], ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || n > math.MaxInt64>>shift {
		return 0, tooLarge
	}
	size := n << shift
	if frac != "" {
		f, err := strconv.ParseFloat("0."+frac, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a size like 512m or 1g", s)
		}
		part := int64(f * float64(int64(1)<<shift))
		if part > math.MaxInt64-size {
			return 0, tooLarge
		}
		size += part
	}
	return size, nil
}

// parseFileMode parses the mode of a secret or config file, in octal as
// chmod takes it: 0400, 400 or 0o400.
func parseFileMode(s string) (os.FileMode, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	mode, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || mode > 0o777 {
		return 0, fmt.Errorf("mode %q is not an octal file mode like 0400", s)
	}
	return os.FileMode(mode), nil
}
