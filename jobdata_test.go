package oneshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secrets and configs made for one job, on the fake engine and clock.

// theSecret is a value that must never be printed.
const theSecret = "hunter2-do-not-print"

func TestSensitiveNeverShowsItsContent(t *testing.T) {
	s := NewSensitive([]byte(theSecret))
	spec := JobSpec{Image: "app:v1"}
	require.NoError(t, WithSecretData("pw", []byte(theSecret))(&spec))
	require.NoError(t, WithConfigData("cfg", "/etc/app.yaml", []byte(theSecret))(&spec))
	type wrapper struct{ hidden Sensitive } // fmt cannot call Format on an unexported field
	var logs bytes.Buffer
	text, jsonLog := slog.New(slog.NewTextHandler(&logs, nil)), slog.New(slog.NewJSONHandler(&logs, nil))
	text.Info("x", "data", s, "item", spec.SecretData[0])
	jsonLog.Info("x", "data", s, "item", spec.ConfigData[0])
	marshalled, err := json.Marshal(struct {
		S []SecretData
		C []ConfigData
	}{spec.SecretData, spec.ConfigData})
	require.NoError(t, err)
	printed := map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%q": fmt.Sprintf("%q", s), "%x": fmt.Sprintf("%x", s),
		"%X": fmt.Sprintf("%X", s), "%d": fmt.Sprintf("%d", s), "%#v": fmt.Sprintf("%#v", s), "%+v": fmt.Sprintf("%+v", s),
		"String": s.String(), "GoString": s.GoString(),
		"spec %v": fmt.Sprintf("%v", spec), "spec %+v": fmt.Sprintf("%+v", spec), "spec %#v": fmt.Sprintf("%#v", spec),
		"spec pointer %+v": fmt.Sprintf("%+v", &spec), "unexported field": fmt.Sprintf("%+v %#v", wrapper{s}, wrapper{s}),
		"json": string(marshalled), "slog": logs.String(), "panic": panicMessage(func() { panic(spec) }),
	}
	for how, out := range printed {
		assert.NotContains(t, out, theSecret, how)
		assert.NotContains(t, out, fmt.Sprintf("%x", theSecret), how)
		assert.NotContains(t, out, "104, 117, 110", how) // the bytes as numbers
	}
	assert.Equal(t, "[redacted]", printed["%v"])
	assert.Contains(t, printed["json"], `"Data":"[redacted]"`)
	assert.Equal(t, theSecret, string(s.Bytes()), "Bytes gives it back")
	assert.Equal(t, len(theSecret), s.Len())
	assert.Zero(t, Sensitive{}.Len())
}

// panicMessage is what a panic in fn prints.
func panicMessage(fn func()) (msg string) {
	defer func() { msg = fmt.Sprint(recover()) }()
	fn()
	return ""
}

func TestSensitiveKeepsACopy(t *testing.T) {
	data := []byte("abc")
	spec := JobSpec{Image: "app:v1"}
	require.NoError(t, WithSecretData("pw", data)(&spec))
	data[0] = 'x'
	assert.Equal(t, "abc", string(spec.SecretData[0].Data.Bytes()))
}

func TestDataValidation(t *testing.T) {
	big := func(n int) []byte { return bytes.Repeat([]byte{'a'}, n) }
	cases := []struct {
		name  string
		opts  []Option
		field string // "" for a valid spec
		says  string
	}{
		{name: "secret and config", opts: []Option{WithSecretData("pw", []byte("x")), WithConfigData("cfg", "/etc/app.yaml", []byte("y"))}},
		{name: "largest secret", opts: []Option{WithSecretData("pw", big(MaxSecretDataSize))}},
		{name: "largest config", opts: []Option{WithConfigData("c", "", big(MaxConfigDataSize))}},
		{name: "secret too large", opts: []Option{WithSecretData("pw", big(MaxSecretDataSize+1))}, field: "SecretData[0].Data", says: "512000 bytes; the swarm takes 1 to 511999"},
		{name: "config too large", opts: []Option{WithConfigData("c", "/c", big(MaxConfigDataSize+1))}, field: "ConfigData[0].Data", says: "1024000 bytes"},
		{name: "empty secret", opts: []Option{WithSecretData("pw", nil)}, field: "SecretData[0].Data", says: "0 bytes"},
		{name: "empty config", opts: []Option{WithConfigData("c", "/c", []byte{})}, field: "ConfigData[0].Data", says: "0 bytes"},
		{name: "no name", opts: []Option{WithSecretData("", []byte("x"))}, field: "SecretData[0].Name", says: "empty"},
		{name: "bad name", opts: []Option{WithSecretData("a/b", []byte("x"))}, field: "SecretData[0].Name", says: `"a/b" is not a valid name`},
		{name: "long name", opts: []Option{WithConfigData(strings.Repeat("n", 41), "/c", []byte("x"))}, field: "ConfigData[0].Name", says: "not a valid name"},
		{name: "names twice", opts: []Option{WithSecretData("pw", []byte("x")), WithSecretDataRef(SecretData{Name: "pw", Target: "/other", Data: NewSensitive([]byte("y"))})},
			field: "SecretData[1].Name", says: `"pw" is used twice`},
		{name: "same name, secret and config", opts: []Option{WithSecretData("pw", []byte("x")), WithConfigData("pw", "/pw.conf", []byte("y"))}},
		{name: "relative config target", opts: []Option{WithConfigData("c", "etc/c", []byte("x"))}, field: "ConfigData[0].Target", says: "not an absolute file path"},
		{name: "config at /", opts: []Option{WithConfigData("c", "/", []byte("x"))}, field: "ConfigData[0].Target"},
		{name: "secret escaping /run/secrets", opts: []Option{WithSecretDataRef(SecretData{Name: "pw", Target: "../etc/passwd", Data: NewSensitive([]byte("x"))})},
			field: "SecretData[0].Target", says: "not a file path"},
		{name: "secret target a directory", opts: []Option{WithSecretDataRef(SecretData{Name: "pw", Target: "/etc/app/", Data: NewSensitive([]byte("x"))})}, field: "SecretData[0].Target"},
		{name: "absolute secret target", opts: []Option{WithSecretDataRef(SecretData{Name: "pw", Target: "/etc/app/pw", UID: "1000", Mode: 0o400, Data: NewSensitive([]byte("x"))})}},
		{name: "clash with a swarm secret", opts: []Option{WithSecret("db-password"), WithSecretData("db-password", []byte("x"))},
			field: "SecretData[0].Target", says: `"/run/secrets/db-password" is also the file of Secrets[0]`},
		{name: "clash with a swarm secret's target", opts: []Option{WithSecretRef(SecretRef{Name: "db", Target: "pw"}), WithSecretData("pw", []byte("x"))}, field: "SecretData[0].Target"},
		{name: "two data secrets at one target", opts: []Option{WithSecretData("a", []byte("x")), WithSecretDataRef(SecretData{Name: "b", Target: "/run/secrets/a", Data: NewSensitive([]byte("y"))})},
			field: "SecretData[1].Target", says: "is also the file of SecretData"},
		{name: "clash with a swarm config", opts: []Option{WithConfig("app", "/etc/app.yaml"), WithConfigData("app2", "/etc/app.yaml", []byte("x"))},
			field: "ConfigData[0].Target", says: "also the file of Configs[0]"},
		{name: "bad mode", opts: []Option{WithConfigDataRef(ConfigData{Name: "c", Mode: 0o4755, Data: NewSensitive([]byte("x"))})}, field: "ConfigData[0].Mode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]Option{WithSecretData("zz-canary", []byte(theSecret))}, tc.opts...)
			_, err := applyOptions(JobSpec{Image: "app:v1"}, opts)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var specErr *SpecError
			require.ErrorAs(t, err, &specErr)
			fields := []string{}
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				fields = append(fields, e.(*SpecError).Field)
			}
			fields = shift(fields) // the canary is SecretData[0]
			assert.Contains(t, fields, tc.field)
			assert.Contains(t, err.Error(), tc.says)
			assert.NotContains(t, err.Error(), theSecret)
		})
	}
}

// shift renumbers SecretData[i] to SecretData[i-1]: the cases' indexes
// leave out the canary put first.
func shift(fields []string) []string {
	var out []string
	for _, f := range fields {
		var i int
		var rest string
		if n, _ := fmt.Sscanf(f, "SecretData[%d]%s", &i, &rest); n >= 1 {
			f = fmt.Sprintf("SecretData[%d]%s", i-1, rest)
		}
		out = append(out, f)
	}
	return out
}

// dataOpts are a secret and a config made for the job.
func dataOpts() []Option {
	return []Option{WithSecretData("pw", []byte(theSecret)), WithConfigData("settings", "/etc/app.yaml", []byte("mode: fast\n"))}
}

// dataLeft lists the data made for jobs still on the fake engine, as
// "kind name".
func dataLeft(f *fakeEngine) []string {
	var out []string
	for _, it := range f.jobData().all() {
		if it.meta.Labels[LabelRunner] != "" {
			continue // a Runner's presence (presence.go), not a job's data
		}
		out = append(out, it.kind+" "+it.meta.Labels[LabelDataOwner])
	}
	return out
}

func TestTheDataIsMadeJustBeforeTheServiceAndMounted(t *testing.T) {
	r, f, c := newFakeRunner(t)
	f.jobData().now = c.Now
	job := startJob(t, context.Background(), r, "job1", append(dataOpts(), WithLabel("team", "a"),
		WithSecretDataRef(SecretData{Name: "key", Target: "/etc/app/key", UID: "1000", Mode: 0o400, Data: NewSensitive([]byte("k"))}))...)
	items := f.jobData().all()
	require.Len(t, items, 3)
	f.mu.Lock()
	spec := f.services[job.ServiceID()].Spec
	f.mu.Unlock()
	assert.True(t, hasJobData(spec.Labels), "the service says it owns data")
	assert.Equal(t, "true", spec.Labels[LabelHasData])
	cs := spec.TaskTemplate.ContainerSpec
	require.Len(t, cs.Secrets, 2)
	require.Len(t, cs.Configs, 1)
	byID := map[string]fakeDataItem{}
	for _, it := range items {
		byID[it.id] = it
		assert.Equal(t, "job1", it.meta.Labels[LabelDataOwner])
		assert.Equal(t, "true", it.meta.Labels[LabelManaged])
		assert.Equal(t, "a", it.meta.Labels["team"], "the job's labels, for PruneLabel")
		assert.Regexp(t, `^oneshot-[0-9a-f]{12}-(pw|key|settings)$`, it.meta.Name)
		lease, err := time.Parse(time.RFC3339Nano, it.meta.Labels[LabelDataLease])
		require.NoError(t, err)
		assert.True(t, lease.After(c.Now().Add(dataLease)), "the lease covers the creates to come")
	}
	assert.Equal(t, theSecret, string(byID[cs.Secrets[0].SecretID].data))
	assert.Equal(t, byID[cs.Secrets[0].SecretID].meta.Name, cs.Secrets[0].SecretName)
	assert.Equal(t, &swarm.SecretReferenceFileTarget{Name: "pw", UID: "0", GID: "0", Mode: 0o444}, cs.Secrets[0].File, "/run/secrets/pw")
	assert.Equal(t, &swarm.SecretReferenceFileTarget{Name: "/etc/app/key", UID: "1000", GID: "0", Mode: 0o400}, cs.Secrets[1].File)
	assert.Equal(t, "mode: fast\n", string(byID[cs.Configs[0].ConfigID].data))
	assert.Equal(t, "/etc/app.yaml", cs.Configs[0].File.Name)
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	await(t, waitAsync(context.Background(), job), "Wait")
}

func TestAJobWithoutDataMakesNoDataRequest(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	job := startJob(t, context.Background(), r, "job1")
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, job.clearJobData())
	for _, call := range []string{"secretList", "configList", "secretCreate", "configCreate", "secretRemove", "configRemove"} {
		assert.Zero(t, f.jobData().callCount(call), call)
	}
	assert.False(t, hasJobData(JobSpec{Image: "a"}.labelsAt(t0)))
	assert.False(t, hasJobData(map[string]string{LabelHasData: "true", LabelJob: "job"}), "a task's service: its job removes the data")
}

// labelsAt is the service labels of the spec, for tests.
func (s JobSpec) labelsAt(now time.Time) map[string]string { return s.labels(now) }

func TestTheDataGoesWithTheJobOnEveryEnd(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		end  func(t *testing.T, r *Runner, f *fakeEngine, c *fakeClock, cancel context.CancelFunc, job *Job)
		want error
	}{
		{name: "success", end: func(_ *testing.T, _ *Runner, f *fakeEngine, _ *fakeClock, _ context.CancelFunc, job *Job) {
			f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
		}},
		{name: "failure", end: func(_ *testing.T, _ *Runner, f *fakeEngine, _ *fakeClock, _ context.CancelFunc, job *Job) {
			f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateFailed, exited(3)))
		}, want: &ExitError{}},
		{name: "cancel", end: func(t *testing.T, r *Runner, f *fakeEngine, c *fakeClock, cancel context.CancelFunc, job *Job) {
			cancel()
			stopped(t, r, f, c, job)
		}, want: context.Canceled},
		{name: "timeout", opts: []Option{WithTimeout(time.Minute)}, end: func(t *testing.T, r *Runner, f *fakeEngine, c *fakeClock, _ context.CancelFunc, job *Job) {
			c.Advance(time.Minute)
			stopped(t, r, f, c, job)
		}, want: context.DeadlineExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, f, c := newFakeRunner(t)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			st := newStatuses()
			job := startJob(t, ctx, r, "job1", append(append(dataOpts(), st.option()), tc.opts...)...)
			assert.Len(t, dataLeft(f), 2)
			running(f, job, "t1")
			st.await(t, StateRunning)
			tc.end(t, r, f, c, cancel, job)
			w := await(t, waitAsync(context.Background(), job), "Wait")
			switch want := tc.want.(type) {
			case nil:
				require.NoError(t, w.err)
			case *ExitError:
				require.ErrorAs(t, w.err, &want)
			default:
				require.ErrorIs(t, w.err, want)
			}
			assert.NoError(t, w.res.CleanupErr)
			assert.Equal(t, []string{job.ServiceID()}, f.removedServices())
			assert.Empty(t, dataLeft(f), "removed after the service")
			assert.NotContains(t, fmt.Sprintf("%v %+v", w.err, w.res), theSecret)
		})
	}
}

// stopped lets a stopped job's task end with 143 and its service settle.
func stopped(t *testing.T, r *Runner, f *fakeEngine, c *fakeClock, job *Job) {
	await(t, f.parked, "the job's service parked")
	stoppedWith(f, job, "t1", 143)
	reaped(t, r, f, c)
}

func TestAJobThatCannotStartLeavesNoData(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *fakeEngine)
		says  string
	}{
		{name: "the service's create fails", setup: func(f *fakeEngine) { f.createErr = errors.New("manager busy") }, says: "manager busy"},
		{name: "the service's name is taken", setup: func(f *fakeEngine) { f.refuseName = "job1" }, says: "already exists"},
		{name: "a config's create fails", setup: func(f *fakeEngine) { f.jobData().failCreate = "settings" }, says: "create config settings"},
		{name: "a secret's create fails but made it", setup: func(f *fakeEngine) { f.jobData().failCreate, f.jobData().madeAnyway = "pw", true },
			says: "connection reset by peer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, f, _ := newFakeRunner(t)
			tc.setup(f)
			_, err := r.Start(context.Background(), JobSpec{Image: "app:v1", Name: "job1"}, dataOpts()...)
			require.ErrorContains(t, err, tc.says)
			assert.NotContains(t, err.Error(), theSecret)
			assert.Empty(t, dataLeft(f))
			f.mu.Lock()
			defer f.mu.Unlock()
			assert.Empty(t, f.services)
		})
	}
}

func TestABadSpecCreatesNoData(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	_, err := r.Start(context.Background(), JobSpec{Image: "app:v1"}, append(dataOpts(), WithSecret("no-such-secret-here"), WithTimeout(-1))...)
	var specErr *SpecError
	require.ErrorAs(t, err, &specErr)
	assert.Zero(t, f.jobData().callCount("secretCreate"))
	_, err = r.Start(context.Background(), JobSpec{Image: "app:v1"}, WithSecretData("pw", nil))
	require.ErrorAs(t, err, &specErr)
	assert.Zero(t, f.jobData().callCount("secretCreate"))
}

func TestACancelledStartMakesNoData(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Start(ctx, JobSpec{Image: "app:v1", Name: "job1"}, dataOpts()...)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, dataLeft(f))
}

func TestAJobOfSeveralTasksSharesItsDataAndRemovesItAfterTheLast(t *testing.T) {
	r, f, c := newFakeRunner(t)
	f.jobData().now = c.Now
	job := startTasks(t, context.Background(), r, append(dataOpts(), WithTasks(3), WithParallelism(1))...)
	assert.Equal(t, "job-0", await(t, f.creating, "task 0 created"))
	assert.Equal(t, 1, f.jobData().callCount("secretCreate"), "made once for the job")
	assert.Equal(t, 1, f.jobData().callCount("configCreate"))
	assert.Equal(t, []string{"config job", "secret job"}, sorted(dataLeft(f)))

	// Between two tasks' services none holds the data: the lease does.
	renewed(t, f, c)
	assert.Equal(t, c.Now().Add(dataLease).UTC(), leaseOf(t, f))

	ends(f, "job-0", "a0", swarm.TaskStateComplete, 0, "")
	assert.Equal(t, "job-1", await(t, f.creating, "task 1 created"))
	assert.Len(t, dataLeft(f), 2, "kept for the tasks to come")
	ends(f, "job-1", "a1", swarm.TaskStateFailed, 1, "")
	assert.Equal(t, "job-2", await(t, f.creating, "task 2 created"))
	ends(f, "job-2", "a2", swarm.TaskStateComplete, 0, "")
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.Error(t, w.err)
	assert.NoError(t, w.res.CleanupErr)
	assert.Empty(t, dataLeft(f), "removed after the last task's service")

	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, created := range f.created {
		assert.Equal(t, "true", created.Spec.Labels[LabelHasData])
		assert.False(t, hasJobData(created.Spec.Labels), "a task's service does not own the job's data")
		ids = append(ids, created.Spec.TaskTemplate.ContainerSpec.Secrets[0].SecretID)
	}
	assert.Equal(t, []string{ids[0], ids[0], ids[0]}, ids, "every task mounts the one secret")
}

func TestAJobOfSeveralTasksThatCannotStartLeavesNoData(t *testing.T) {
	r, f, _ := newFakeRunner(t)
	f.createErr = errors.New("manager busy")
	_, err := r.Start(context.Background(), JobSpec{Image: "app:v1", Name: "job"}, append(dataOpts(), WithTasks(2))...)
	require.ErrorContains(t, err, "manager busy")
	assert.Empty(t, dataLeft(f))
}

func TestAStopLeavesNoDataOfAJobOfSeveralTasks(t *testing.T) {
	r, f, c := newFakeRunner(t)
	ctx, cancel := context.WithCancel(context.Background())
	job := startTasks(t, ctx, r, append(dataOpts(), WithTasks(2))...)
	await(t, f.creating, "task 0 created")
	await(t, f.creating, "task 1 created")
	f.setTasks("svc-job-0", task("a0", 0, swarm.TaskStateRunning))
	f.setTasks("svc-job-1", task("a1", 0, swarm.TaskStateRunning))
	cancel()
	for range 2 {
		id := await(t, f.parked, "a task's service parked")
		f.setTasks(id, task(strings.TrimPrefix(id, "svc-"), 0, swarm.TaskStateShutdown, exited(143)))
	}
	f.polls.await(t, r)
	c.Advance(reaperSettle)
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.ErrorIs(t, w.err, context.Canceled)
	assert.Empty(t, dataLeft(f))
}

// renewed moves the clock to the next renewal of the job's data lease and
// waits until its secret and config are renewed.
func renewed(t *testing.T, f *fakeEngine, c *fakeClock) {
	t.Helper()
	c.Advance(dataRenewEvery)
	await(t, f.jobData().updated, "a lease renewed")
	await(t, f.jobData().updated, "the other lease renewed")
}

func leaseOf(t *testing.T, f *fakeEngine) time.Time {
	t.Helper()
	items := f.jobData().all()
	require.NotEmpty(t, items)
	lease, err := time.Parse(time.RFC3339Nano, items[0].meta.Labels[LabelDataLease])
	require.NoError(t, err)
	return lease
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestRemoveJobDataIsBoundedAndToleratesWhatIsGone(t *testing.T) {
	r, f, c := newFakeRunner(t)
	f.jobData().now = c.Now
	p := prepared{name: "job1"}
	spec := JobSpec{Image: "app:v1"}
	for _, opt := range dataOpts() {
		require.NoError(t, opt(&spec))
	}
	require.NoError(t, r.createJobData(context.Background(), &spec, &p))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, r.removeJobData(ctx, "job1"), "a cancelled caller's context does not stop it")
	assert.Empty(t, dataLeft(f))
	require.NoError(t, r.removeJobData(context.Background(), "job1"), "nothing left: no error")

	f.jobData().listErr = errors.New("manager busy")
	err := r.removeJobData(context.Background(), "job1")
	var cleanupErr *DataCleanupError
	require.ErrorAs(t, err, &cleanupErr)
	assert.Contains(t, err.Error(), "oneshot.Prune")
}

// orphan makes the data of a job named owner as a start that died before
// its service would, its creation d ago on the fake clock.
func orphan(t *testing.T, r *Runner, f *fakeEngine, c *fakeClock, owner string, opts ...Option) {
	t.Helper()
	f.jobData().now = c.Now
	spec := JobSpec{Image: "app:v1"}
	for _, opt := range append(dataOpts(), opts...) {
		require.NoError(t, opt(&spec))
	}
	p := prepared{name: owner}
	require.NoError(t, r.createJobData(context.Background(), &spec, &p))
}

func TestPruneRemovesTheDataOfDeadJobsOnly(t *testing.T) {
	r, f, c := newFakeRunner(t)
	orphan(t, r, f, c, "dead-early")
	live := startJob(t, context.Background(), r, "live", dataOpts()...)

	_, err := r.Prune(context.Background())
	require.NoError(t, err)
	assert.Len(t, dataLeft(f), 4, "within the lease, a start may still create its service")

	c.Advance(5 * time.Minute) // past dataLease and the creates' bound
	_, err = r.Prune(context.Background(), PruneDryRun())
	require.NoError(t, err)
	assert.Len(t, dataLeft(f), 4, "a dry run removes nothing")
	_, err = r.Prune(context.Background(), PruneLabel("team=b"))
	require.NoError(t, err)
	assert.Len(t, dataLeft(f), 4, "not labelled so")
	_, err = r.Prune(context.Background(), PruneOlderThan(time.Hour))
	require.NoError(t, err)
	assert.Len(t, dataLeft(f), 4, "too young")

	_, err = r.Prune(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"config live", "secret live"}, sorted(dataLeft(f)), "the live job's service holds its data")

	f.setTasks(live.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	await(t, waitAsync(context.Background(), live), "Wait")
}

func TestPruneRemovesTheDataOfAKeptJobWithItsService(t *testing.T) {
	r, f, c := newFakeRunner(t)
	f.jobData().now = c.Now
	job := startJob(t, context.Background(), r, "kept", append(dataOpts(), WithKeep())...)
	f.setTasks(job.ServiceID(), task("t1", 0, swarm.TaskStateComplete, exited(0)))
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err)
	assert.Len(t, dataLeft(f), 2, "kept with its service")

	pruned, err := r.Prune(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{job.ServiceID()}, prunedIDs(pruned))
	assert.Empty(t, dataLeft(f), "no lease to wait for: its job's service is gone")
}

func TestPruneLeavesTheDataOfAJobOfSeveralTasksBetweenTwoTasks(t *testing.T) {
	r, f, c := newFakeRunner(t)
	f.jobData().now = c.Now
	job := startTasks(t, context.Background(), r, append(dataOpts(), WithTasks(2), WithParallelism(1))...)
	await(t, f.creating, "task 0 created")
	for range 6 { // past the lease the data was made with
		renewed(t, f, c)
	}
	// As another process sees it between two tasks' services: no service,
	// the data made long ago, its lease renewed a moment ago.
	f.gateNextCreate()
	ends(f, "job-0", "a0", swarm.TaskStateComplete, 0, "")
	await(t, f.creating, "task 1 being created")
	other := &Runner{api: f, log: quietLogger, clock: c, inFlight: map[*Job]bool{}}
	other.watch = newWatcher(f, quietLogger, c)
	_, err := other.Prune(context.Background())
	require.NoError(t, err)
	assert.Len(t, dataLeft(f), 2, "the lease holds it")
	f.openCreates()
	ends(f, "job-1", "a1", swarm.TaskStateComplete, 0, "")
	w := await(t, waitAsync(context.Background(), job), "Wait")
	require.NoError(t, w.err)
	assert.Empty(t, dataLeft(f))
}

// gateNextCreate holds the service creates until openCreates.
func (f *fakeEngine) gateNextCreate() {
	f.mu.Lock()
	f.createGate = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeEngine) openCreates() {
	f.mu.Lock()
	close(f.createGate)
	f.mu.Unlock()
}

func TestAnAttachedJobRemovesTheDataOfItsService(t *testing.T) {
	spec := JobSpec{Image: "app:v1", group: "", usesData: true}
	j := &Job{spec: spec}
	assert.True(t, j.ownsJobData())
	j.spec.group = "job"
	assert.False(t, j.ownsJobData())
}

func prunedIDs(list []PrunedService) []string {
	var ids []string
	for _, p := range list {
		ids = append(ids, p.ID)
	}
	return ids
}
