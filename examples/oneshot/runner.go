package main

import (
	"sync"

	"github.com/oneshot-go/oneshot"
)

// cliRunner is the command's one Runner, made on first use.
var cliRunner = sync.OnceValues(func() (*oneshot.Runner, error) { return oneshot.NewRunner(engineOptions()...) }) // the global flags: engineflags.go
