package main

import (
	"fmt"
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
// zero.
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size like 512m or 1g", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size like 512m or 1g", s)
	}
	unit := int64(1)
	if m[2] != "" {
		unit = 1 << (10 * (strings.Index("kmgtp", strings.ToLower(m[2])) + 1))
	}
	return int64(n * float64(unit)), nil
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
