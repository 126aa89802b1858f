package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/oneshot-go/oneshot"
)

// The global flags name the engine as the docker CLI's do, and like them
// they come before the command: `oneshot -H ssh://me@host run IMAGE`,
// `oneshot --context prod prune`. Without them the engine is the one the
// docker CLI would use: DOCKER_HOST, DOCKER_CONTEXT, the current context
// (`docker context use`), the local socket.

// engineUsage describes the global flags, for usage.
const engineUsage = `
Global flags, before the command (as the docker CLI's):
  -H, --host HOST      the engine: unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]
  -c, --context NAME   the docker context to use ('docker context ls')
Without them: DOCKER_HOST, then DOCKER_CONTEXT, then the current docker context, then the local engine.
`

// engineFlags are the global flags.
type engineFlags struct {
	host, context string
}

// parseEngineFlags takes the global flags off the front of args and
// returns them with the arguments left, the command first.
func parseEngineFlags(args []string) (engineFlags, []string, error) {
	var f engineFlags
	for len(args) > 0 {
		name, value, inline := strings.Cut(args[0], "=")
		var dst *string
		switch name {
		case "-H", "--host", "-host":
			dst, name = &f.host, "--host"
		case "-c", "--context", "-context":
			dst, name = &f.context, "--context"
		default:
			return f, args, f.check()
		}
		if !inline {
			if len(args) < 2 {
				return f, nil, fmt.Errorf("%s needs a value", name)
			}
			value, args = args[1], args[1:]
		}
		if *dst != "" {
			return f, nil, fmt.Errorf("%s is given twice: give one", name)
		}
		if value == "" {
			return f, nil, fmt.Errorf("%s needs a value", name)
		}
		*dst, args = value, args[1:]
	}
	return f, args, f.check()
}

// check refuses --host with --context, as the docker CLI does.
func (f engineFlags) check() error {
	if f.host != "" && f.context != "" {
		return errors.New("conflicting options: give --host or --context, not both")
	}
	return nil
}

// options are the Runner options the flags ask for.
func (f engineFlags) options() []oneshot.RunnerOption {
	switch {
	case f.host != "":
		return []oneshot.RunnerOption{oneshot.WithHost(f.host)}
	case f.context != "":
		return []oneshot.RunnerOption{oneshot.WithContext(f.context)}
	}
	return nil
}

// globalFlags are the global flags of this run of the command, set by
// run: cliRunner makes its Runner with their options.
var globalFlags engineFlags

// useEngineFlags takes the global flags off args, for cliRunner, and
// returns the arguments left.
func useEngineFlags(args []string) ([]string, error) {
	f, rest, err := parseEngineFlags(args)
	if err != nil {
		return nil, err
	}
	globalFlags = f
	return rest, nil
}

// engineOptions are the Runner options of the global flags.
func engineOptions() []oneshot.RunnerOption { return globalFlags.options() }

// fromServiceOnEngine is oneshot.FromService on the command's Runner.
func fromServiceOnEngine(ctx context.Context, nameOrID string) (oneshot.JobSpec, error) {
	r, err := cliRunner()
	if err != nil {
		return oneshot.JobSpec{}, err
	}
	return r.FromService(ctx, nameOrID)
}

// pruneOnEngine is oneshot.Prune on the command's Runner.
func pruneOnEngine(ctx context.Context, opts ...oneshot.PruneOption) ([]oneshot.PrunedService, error) {
	r, err := cliRunner()
	if err != nil {
		return nil, err
	}
	return r.Prune(ctx, opts...)
}
