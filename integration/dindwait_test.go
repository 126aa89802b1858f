package integration

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/client"
)

// dindResync is how often waitUntil checks again without an event: a safety
// net for a change whose event the stream never sends, not the way changes
// are normally noticed.
const dindResync = 2 * time.Second

// waitUntil returns once check reports done. check is level-driven (it says
// what is true now); the events of api that match filters say when to look
// again. The stream is opened before each check, so no change falls between
// a check and the subscription. A broken stream (an engine restarting) is
// opened again. When ctx ends, the error carries the last check's error.
func waitUntil(ctx context.Context, api *client.Client, filters client.Filters, check func(context.Context) (bool, error)) error {
	var last error
	reopenDelay := 50 * time.Millisecond
	for {
		stream, cancel := context.WithCancel(ctx)
		events := api.Events(stream, client.EventsListOptions{Filters: filters})
		done, err := waitOnStream(ctx, events, check, &last)
		cancel()
		if done || err != nil {
			return err
		}
		// The stream broke: the engine may be down for a moment.
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last check: %v)", ctx.Err(), last)
		case <-time.After(reopenDelay):
		}
		reopenDelay = min(2*reopenDelay, time.Second)
	}
}

// waitOnStream runs check now and on every event until it is done (true,
// nil), ctx ends (false, error) or the stream breaks (false, nil).
func waitOnStream(ctx context.Context, events client.EventsResult, check func(context.Context) (bool, error), last *error) (bool, error) {
	resync := time.NewTicker(dindResync)
	defer resync.Stop()
	for {
		done, err := check(ctx)
		if done {
			return true, nil
		}
		*last = err
		select {
		case <-events.Messages:
		case <-resync.C:
		case <-events.Err:
			return false, nil
		case <-ctx.Done():
			return false, fmt.Errorf("%w (last check: %v)", ctx.Err(), *last)
		}
	}
}
