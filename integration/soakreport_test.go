package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/oneshot-go/oneshot"
)

// What a soak reports: per kind, how many jobs and how many ended as
// expected, how they ended, how long they took; the makespan; what the
// pruning process did; what was left on the swarm.

// soakReport is a soak's outcome.
type soakReport struct {
	seed     uint64
	outcomes []*soakOutcome
	makespan time.Duration
	prune    soakPruneReport
	left     soakLeft
}

// soakMaxShown bounds the failed jobs a report spells out.
const soakMaxShown = 20

// log logs the counts.
func (r *soakReport) log(t *testing.T) {
	t.Helper()
	for k := range soakKinds {
		t.Log(r.kindLine(k))
	}
	expected, bytes := 0, 0
	for _, o := range r.outcomes {
		if o.problem == nil {
			expected++
		}
		bytes += o.outputBytes
	}
	n := len(r.outcomes)
	t.Logf("%d jobs (seed %d) from %d goroutines on one Runner: %d as expected; makespan %s, %.2f jobs/s; %.1f MiB of output checked byte for byte",
		n, r.seed, soakGoroutines, expected, r.makespan.Round(100*time.Millisecond), float64(n)/r.makespan.Seconds(), float64(bytes)/(1<<20))
	t.Logf("Prune in another process: %d calls during the soak (%d failed), %d services of the soak removed; %d results lost (ErrServiceRemoved or ErrOutputIncomplete)",
		r.prune.Calls, r.prune.Failed, len(r.prune.Pruned), len(r.lost()))
	t.Logf("left afterwards: %s", r.left)
	t.Logf("the errors of the jobs not as expected: %s", r.unexpectedErrors())
	for _, o := range r.outcomes {
		if o.endedAfter != 0 {
			t.Logf("Wait gave up on %s after %s (%v); its container stopped running %s later; %s", o.job.describe(), o.took.Round(10*time.Millisecond), o.err, o.endedAfter.Round(10*time.Millisecond), o.evidence)
		}
	}
}

// kindLine sums up the jobs of one kind.
func (r *soakReport) kindLine(k soakKind) string {
	jobs, expected := 0, 0
	var total, fastest, slowest time.Duration
	how := map[string]int{}
	for _, o := range r.outcomes {
		if o.job.kind != k {
			continue
		}
		jobs++
		if o.problem == nil {
			expected++
		}
		how[o.how]++
		total += o.took
		if fastest == 0 || o.took < fastest {
			fastest = o.took
		}
		slowest = max(slowest, o.took)
	}
	if jobs == 0 {
		return fmt.Sprintf("%-13s no job", k)
	}
	var hows []string
	for _, h := range slices.Sorted(maps.Keys(how)) {
		hows = append(hows, fmt.Sprintf("%s %d", h, how[h]))
	}
	return fmt.Sprintf("%-13s %3d jobs, %3d as expected; took %s-%s (mean %s): %s", k, jobs, expected,
		fastest.Round(10*time.Millisecond), slowest.Round(10*time.Millisecond), (total / time.Duration(jobs)).Round(10*time.Millisecond), strings.Join(hows, ", "))
}

// lost lists the jobs whose result was lost: their service removed from
// under them, or their output not read whole.
func (r *soakReport) lost() []*soakOutcome {
	var lost []*soakOutcome
	for _, o := range r.outcomes {
		if errors.Is(o.err, oneshot.ErrServiceRemoved) || errors.Is(o.err, oneshot.ErrOutputIncomplete) {
			lost = append(lost, o)
		}
	}
	return lost
}

// fail fails the test for each job not as expected (with what it would
// take to see it again) and for what the pruning process or the swarm
// says went wrong.
func (r *soakReport) fail(t *testing.T) {
	t.Helper()
	failed := 0
	for _, o := range r.outcomes {
		if o.problem == nil {
			continue
		}
		if failed++; failed <= soakMaxShown {
			t.Errorf("seed %d, %s; service %s: %v", r.seed, o.job.describe(), serviceName(o.res), o.problem)
		}
	}
	if failed > soakMaxShown {
		t.Errorf("and %d more jobs not as expected", failed-soakMaxShown)
	}
	if r.prune.Failed > 0 {
		t.Errorf("%d of %d Prune calls failed; the first: %s", r.prune.Failed, r.prune.Calls, r.prune.FirstError)
	}
	if len(r.prune.Pruned) > 0 {
		t.Errorf("Prune removed services of the soak, none of which was kept: %v", r.prune.Pruned)
	}
	if !r.left.empty() {
		t.Errorf("left on the swarm: %s", r.left)
	}
}

func serviceName(res *oneshot.Result) string {
	if res == nil {
		return "(none)"
	}
	return res.ServiceName
}

// soakLeft is what was left of the soak's jobs once they had all returned.
type soakLeft struct {
	services, secrets, configs []string
	// containers are by node; nodes counts the nodes looked at.
	containers map[string][]string
	nodes      int
}

func (l soakLeft) empty() bool {
	return len(l.services)+len(l.secrets)+len(l.configs)+len(l.containerList()) == 0
}

func (l soakLeft) containerList() []string {
	var all []string
	for node, list := range l.containers {
		for _, c := range list {
			all = append(all, node+": "+c)
		}
	}
	return all
}

func (l soakLeft) String() string {
	return fmt.Sprintf("%d services %v, %d secrets %v, %d configs %v, %d containers %v (on %d nodes)",
		len(l.services), l.services, len(l.secrets), l.secrets, len(l.configs), l.configs, len(l.containerList()), l.containerList(), l.nodes)
}

// soakContainersBound bounds how long the swarm may take to remove the
// containers of removed services.
const soakContainersBound = 2 * time.Minute

// soakLeftovers lists the services, secrets and configs of the soak's
// label on the swarm, removing them so that a failure does not spill
// into the next test, and the containers of that label left on each node
// once the swarm has had soakContainersBound to remove them (woken by the
// nodes' container events).
func soakLeftovers(t *testing.T, ctx context.Context, target *soakTarget) soakLeft {
	t.Helper()
	left := soakLeft{containers: map[string][]string{}, nodes: len(target.nodes)}
	label := make(client.Filters).Add("label", target.label)
	var err error
	left.services, left.secrets, left.configs, err = removeSoakObjects(ctx, target.manager, label)
	if err != nil {
		t.Errorf("list what the soak left: %v", err)
	}
	bounded, cancel := context.WithTimeout(ctx, soakContainersBound)
	defer cancel()
	for name, api := range target.nodes {
		if list := awaitNoContainers(bounded, api, label); len(list) > 0 {
			left.containers[name] = list
		}
	}
	return left
}

// removeSoakObjects lists and removes the services, secrets and configs
// that match filters.
func removeSoakObjects(ctx context.Context, api *client.Client, filters client.Filters) (services, secrets, configs []string, err error) {
	svcs, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: filters})
	if err != nil {
		return nil, nil, nil, err
	}
	for _, s := range svcs.Items {
		services = append(services, s.Spec.Name)
		_, _ = api.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{})
	}
	secs, err := api.SecretList(ctx, client.SecretListOptions{Filters: filters})
	if err != nil {
		return services, nil, nil, err
	}
	for _, s := range secs.Items {
		secrets = append(secrets, s.Spec.Name)
		_, _ = api.SecretRemove(ctx, s.ID, client.SecretRemoveOptions{})
	}
	cfgs, err := api.ConfigList(ctx, client.ConfigListOptions{Filters: filters})
	if err != nil {
		return services, secrets, nil, err
	}
	for _, c := range cfgs.Items {
		configs = append(configs, c.Spec.Name)
		_, _ = api.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{})
	}
	return services, secrets, configs, nil
}

// awaitNoContainers waits until the engine has no container matching
// filters, woken by its container events, and returns those left when ctx
// ends.
func awaitNoContainers(ctx context.Context, api *client.Client, filters client.Filters) []string {
	var left []string
	_ = waitUntil(ctx, api, filters.Clone().Add("type", "container"), func(ctx context.Context) (bool, error) {
		list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
		if err != nil {
			return false, err
		}
		left = left[:0]
		for _, c := range list.Items {
			left = append(left, fmt.Sprintf("%.12s %s", c.ID, c.State))
		}
		return len(left) == 0, nil
	})
	return left
}

// unexpectedErrors counts the jobs not as expected by the sentinel their
// error matches.
func (r *soakReport) unexpectedErrors() string {
	kinds := []error{oneshot.ErrServiceRemoved, oneshot.ErrNodeLost, oneshot.ErrOutputIncomplete, oneshot.ErrTaskFailed}
	counts := map[string]int{}
	for _, o := range r.outcomes {
		if o.problem == nil {
			continue
		}
		what := "other"
		for _, k := range kinds {
			if errors.Is(o.err, k) {
				what = k.Error()
				break
			}
		}
		counts[what]++
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
