package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// The DinD swarm runs the engine ONESHOT_DIND_ENGINE selects (dindEngines):
// Docker 20.10 from bookworm by default, 26.1 from trixie with
// ONESHOT_DIND_ENGINE=trixie. `make test` runs the multi-node tests on both.

func TestSelectDinDEngine(t *testing.T) {
	for want, engine := range map[string]string{"": "bookworm", "bookworm": "bookworm", "20.10": "bookworm", "trixie": "trixie", "26.1": "trixie"} {
		e, err := selectDinDEngine(want)
		require.NoError(t, err, "%q", want)
		assert.Equal(t, engine, e.name, "%q", want)
	}
	_, err := selectDinDEngine("sid")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bookworm (20.10), trixie (26.1)", "the error lists the engines")
}

// TestDinDEngine checks that every node runs the selected engine and that
// a Runner on the manager negotiated the engine's API version (no higher:
// the client speaks up to a newer one) and runs a job on it.
func TestDinDEngine(t *testing.T) {
	s := dindTest(t)
	ctx := testContext(t, time.Minute)
	for _, n := range s.nodes() {
		v, err := n.api.ServerVersion(ctx, client.ServerVersionOptions{})
		require.NoError(t, err, n.role)
		assert.Equal(t, s.engineVersion, v.Version, "%s runs the manager's engine", n.role)
		if !dindImageChosen {
			assert.True(t, strings.HasPrefix(v.Version, dindSelected.version+"."), "%s runs Docker %s, not %s", n.role, v.Version, dindSelected.version)
			assert.Equal(t, dindSelected.api, v.APIVersion, "%s's API version", n.role)
		}
	}
	api, err := client.New(client.WithHost(s.manager.Host()))
	require.NoError(t, err)
	defer api.Close()
	r, err := oneshot.NewRunner(oneshot.WithClient(api))
	require.NoError(t, err)
	defer r.Close()
	res, err := r.Run(ctx, oneshot.JobSpec{Image: s.jobImage, Command: []string{"echo", "on " + s.engineVersion}},
		oneshot.WithConstraint("node.role==worker"))
	require.NoError(t, err)
	assert.Equal(t, "on "+s.engineVersion+"\n", string(res.Stdout))
	assert.Equal(t, s.apiVersion, api.ClientVersion(), "the client negotiated the engine's API version")
	t.Logf("Docker %s (API %s) on %s: the Runner's client speaks API %s", s.engineVersion, s.apiVersion,
		dindNodeImage(), api.ClientVersion())
}
