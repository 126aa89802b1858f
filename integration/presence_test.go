package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// presenceJob lasts long enough for its Runner's presence to be made
// (about two minutes in, when its lease on the service has one left) and
// renewed once (a minute later).
var presenceJob = []string{"echo", "started", "--", "sleep", "200s", "--", "echo", "done"}

// TestARunnersPresenceHoldsItsLongJob runs a job of 3.5 minutes on a
// Runner of its own, on the local swarm: past two minutes, the Runner
// makes its presence, a config that holds the job's lease; a minute later
// it renews it; it removes it with the job, before Run returns. It runs
// beside the other parallel tests: it mostly sleeps.
func TestARunnersPresenceHoldsItsLongJob(t *testing.T) {
	t.Parallel()
	requireNothingLeft(t)
	ctx := testContext(t, 6*time.Minute)
	api := localDocker(t)
	since := time.Now()
	changes := presenceEvents(ctx, api, since)

	job, err := processRunner(t).Start(ctx, oneshot.JobSpec{Image: jobkitImage, Command: presenceJob}, testLabel(t))
	require.NoError(t, err)
	waiter := waiterOf(t, ctx, api, job.ServiceID())

	// Another run of the tests on this engine may make its own presence.
	holdsMine := func(m events.Message) bool {
		found, err := api.ConfigInspect(ctx, m.Actor.ID, client.ConfigInspectOptions{})
		_, holds := found.Config.Spec.Labels[oneshot.LabelRunnerHoldsPrefix+waiter]
		return err == nil && holds
	}
	made := awaitPresenceEvent(t, ctx, changes, events.ActionCreate, holdsMine)
	held := inspectPresence(t, ctx, api, made.Actor.ID)
	t.Logf("presence %s made %s after the start", held.Spec.Name, time.Since(since).Round(time.Second))
	assert.True(t, strings.HasPrefix(held.Spec.Name, "oneshot-runner-"))
	assert.Contains(t, held.Spec.Labels, oneshot.LabelRunnerHoldsPrefix+waiter, "it holds the job's lease")
	assert.Greater(t, time.Since(since), 90*time.Second, "not before the job's own lease nears its end")
	until := aliveUntil(t, held)
	assert.WithinDuration(t, time.Now().Add(3*time.Minute), until, 30*time.Second)

	awaitPresenceEvent(t, ctx, changes, events.ActionUpdate, func(m events.Message) bool { return m.Actor.ID == made.Actor.ID })
	assert.True(t, aliveUntil(t, inspectPresence(t, ctx, api, made.Actor.ID)).After(until), "renewed further")

	res, err := job.Wait(ctx)
	require.NoError(t, err)
	assert.NoError(t, res.CleanupErr, "its service removed")
	assert.Equal(t, "started\ndone\n", string(res.Stdout))
	_, err = api.ConfigInspect(ctx, made.Actor.ID, client.ConfigInspectOptions{})
	assert.True(t, err != nil && strings.Contains(strings.ToLower(err.Error()), "not found"), "removed with its last job, before Wait returned: %v", err)
}

// presenceEvents streams the swarm's config events from since.
func presenceEvents(ctx context.Context, api *client.Client, since time.Time) client.EventsResult {
	return api.Events(ctx, client.EventsListOptions{Since: since.Format(time.RFC3339Nano),
		Filters: make(client.Filters).Add("type", string(events.ConfigEventType))})
}

// awaitPresenceEvent returns the next event of a Runner's presence that is
// action and that mine says is the test's.
func awaitPresenceEvent(t *testing.T, ctx context.Context, stream client.EventsResult, action events.Action, mine func(events.Message) bool) events.Message {
	t.Helper()
	for {
		select {
		case m := <-stream.Messages:
			if m.Action == action && strings.HasPrefix(m.Actor.Attributes["name"], "oneshot-runner-") && mine(m) {
				return m
			}
		case err := <-stream.Err:
			require.NoError(t, err, "the event stream")
		case <-ctx.Done():
			require.FailNow(t, "no presence "+string(action)+" event")
		}
	}
}

func inspectPresence(t *testing.T, ctx context.Context, api *client.Client, id string) swarm.Config {
	t.Helper()
	found, err := api.ConfigInspect(ctx, id, client.ConfigInspectOptions{})
	require.NoError(t, err)
	return found.Config
}

func aliveUntil(t *testing.T, c swarm.Config) time.Time {
	t.Helper()
	until, err := time.Parse(time.RFC3339, c.Spec.Labels[oneshot.LabelRunnerAliveUntil])
	require.NoError(t, err)
	return until
}

// waiterOf returns the one waiter whose lease is on the service.
func waiterOf(t *testing.T, ctx context.Context, api *client.Client, serviceID string) string {
	t.Helper()
	found, err := api.ServiceInspect(ctx, serviceID, client.ServiceInspectOptions{})
	require.NoError(t, err)
	var waiters []string
	for k := range found.Service.Spec.Labels {
		if w, ok := strings.CutPrefix(k, oneshot.LabelWaiterPrefix); ok {
			waiters = append(waiters, w)
		}
	}
	require.Len(t, waiters, 1)
	return waiters[0]
}
