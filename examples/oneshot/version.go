package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// versionCommand is `oneshot version`: the module version and VCS revision
// the binary was built from, and the Go version.
func versionCommand(w io.Writer) int {
	version, revision := "(unknown)", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		version = info.Main.Version
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				revision = " " + s.Value[:12]
			}
		}
	}
	fmt.Fprintf(w, "oneshot %s%s %s\n", version, revision, runtime.Version())
	return 0
}
