package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseBytes(t *testing.T) {
	cases := map[string]int64{
		"": 0, "100": 100, "100b": 100, "2k": 2 << 10, "2K": 2 << 10, "512m": 512 << 20, "512mb": 512 << 20,
		"512MiB": 512 << 20, "1G": 1 << 30, "1.5g": 3 << 29, "1 g": 1 << 30, "2t": 2 << 40, "1p": 1 << 50,
	}
	for in, want := range cases {
		got, err := parseBytes(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, bad := range []string{"m", "-1m", "ten", "1x", "1.g", "1e3", " 1m", "1mm"} {
		_, err := parseBytes(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseFileMode(t *testing.T) {
	cases := map[string]os.FileMode{"0400": 0o400, "400": 0o400, "0o440": 0o440, "0": 0, "777": 0o777}
	for in, want := range cases {
		got, err := parseFileMode(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, bad := range []string{"", "rw", "0888", "1000", "-1", "0x1ff"} {
		_, err := parseFileMode(bad)
		assert.Error(t, err, bad)
	}
}
