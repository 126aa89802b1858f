package oneshot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Secrets and configs made for one job (WithSecretData, WithConfigData):
// oneshot creates them on the swarm just before the job's service(s), once
// everything else is validated and resolved, and removes them once the
// job's last service is gone, on every path. Each carries LabelManaged,
// LabelDataOwner (the job's name) and a lease (LabelDataLease): Prune
// removes the data of a job that has no service left once its lease has
// expired, so that it never takes the data of a job being started. A job
// of several tasks renews the lease while it runs: between one task's
// service and the next there may be none.

// Labels of the secrets and configs made for one job, and of its services.
const (
	// LabelDataOwner names the job that owns a secret or config made for
	// it: the job's service name, or for a job of several tasks the job's
	// name (its services' LabelJob).
	LabelDataOwner = "oneshot.data-of"
	// LabelDataLease is when Prune may first remove the data of a job
	// that has no service left (RFC 3339).
	LabelDataLease = "oneshot.data-lease"
	// LabelHasData says a job service uses secrets or configs made for
	// its job ("true").
	LabelHasData = "oneshot.has-data"
	// labelDataRun tells apart the data of two starts of jobs of one name.
	labelDataRun = "oneshot.data-run"
)

// The swarm's limits for the content of one secret or config (swarmkit's
// MaxSecretSize and MaxConfigSize, measured on Docker 20.10): at least one
// byte, and less than 500 KiB or 1000 KiB.
const (
	MaxSecretDataSize = 500*1024 - 1
	MaxConfigDataSize = 1000*1024 - 1
)

const (
	// maxDataNameLength leaves room in the swarm's 64 characters for
	// "oneshot-", the start's 12 random digits and a dash.
	maxDataNameLength = 40
	// dataLease is how long Prune leaves the data of a job without a
	// service alone after its creation or last renewal; a job of several
	// tasks renews it every dataRenewEvery.
	dataLease      = 3 * time.Minute
	dataRenewEvery = time.Minute
	// dataInUseRetries bounds the removals of data the swarm still says
	// is in use (by a service removed a moment ago).
	dataInUseRetries = 5
)

// dataNamePattern is swarmkit's rule for the names of secrets and configs.
var dataNamePattern = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)

// SecretData is a secret made for one job from bytes the caller holds
// (WithSecretData, WithSecretDataRef): created on the swarm just before the
// job's service, given to the job as a file, removed with the job.
type SecretData struct {
	// Name names the secret in the job (its file is /run/secrets/NAME
	// unless Target says otherwise) and in its swarm name: up to 40
	// letters, digits, '-', '_' and '.', starting and ending with a
	// letter or digit, unique among the job's SecretData.
	Name string
	// Target is the file's path: relative to /run/secrets, or absolute.
	// Empty means /run/secrets/NAME.
	Target string
	// UID and GID own the file ("0" when empty).
	UID, GID string
	// Mode is the file's mode (0444 when zero).
	Mode os.FileMode
	// Data is the content: 1 byte to MaxSecretDataSize.
	Data Sensitive
}

// ConfigData is a config made for one job from bytes the caller holds
// (WithConfigData, WithConfigDataRef), as SecretData is a secret.
type ConfigData struct {
	// Name names the config in its swarm name (and its file, /NAME, when
	// Target is empty), with the same rules as SecretData's.
	Name string
	// Target is the file's absolute path; empty means /NAME.
	Target string
	// UID and GID own the file ("0" when empty).
	UID, GID string
	// Mode is the file's mode (0444 when zero).
	Mode os.FileMode
	// Data is the content: 1 byte to MaxConfigDataSize.
	Data Sensitive
}

// DataCleanupError reports a secret or config made for a job that could
// not be removed. Like CleanupError it is housekeeping, not the job's
// outcome: it goes to Result.CleanupErr and the Runner's logger.
type DataCleanupError struct {
	// Kind is "secret" or "config"; Name is its swarm name (empty when
	// the list of the job's data failed), Owner the job's name.
	Kind, Name, Owner string
	// Err is what the engine said.
	Err error
}

// Error says which secret or config may be left, and how to remove it.
func (e *DataCleanupError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("oneshot: list the %ss of job %s to remove them: %v (oneshot.Prune removes them later)", e.Kind, e.Owner, e.Err)
	}
	return fmt.Sprintf("oneshot: remove %s %s of job %s: %v (remove it with `docker %s rm %s` or oneshot.Prune)", e.Kind, e.Name, e.Owner, e.Err, e.Kind, e.Name)
}

// Unwrap returns the engine's error.
func (e *DataCleanupError) Unwrap() error { return e.Err }

// hasData says the job uses secrets or configs made for it.
func (s *JobSpec) hasData() bool { return len(s.SecretData)+len(s.ConfigData) > 0 }

// hasJobData says that the job service with these labels owns secrets or
// configs made for its job: they are to be removed once the service is.
// The task services of a job of several tasks do not own theirs: the job
// removes them after its last task.
func hasJobData(labels map[string]string) bool {
	return labels[LabelHasData] == "true" && labels[LabelJob] == ""
}

// ownsJobData says the Job is a job of one task whose service uses data
// made for it, to be removed right after its service (also when the Job
// was attached to the service: JobSpec.usesData).
func (j *Job) ownsJobData() bool {
	return j.spec.group == "" && (j.spec.hasData() || j.spec.usesData)
}

// clearJobData removes the data of a job of one task once its service is
// gone (no request when it has none); a failure is logged and returned,
// for Result.CleanupErr.
func (j *Job) clearJobData() error {
	if !j.ownsJobData() {
		return nil
	}
	err := j.runner.removeJobData(context.Background(), j.name)
	if err != nil {
		j.runner.log.Warn("oneshot: job data left behind", "job", j.name, "err", err)
	}
	return err
}

// validateData checks the secrets and configs made for the job: names,
// sizes, modes and where their files go. The content never shows in an
// error.
func (s *JobSpec) validateData(add addSpecError) {
	secretAt := map[string]string{}
	for i, ref := range s.Secrets {
		secretAt[secretPath(ref)] = fmt.Sprintf("Secrets[%d]", i)
	}
	names := map[string]bool{}
	for i, d := range s.SecretData {
		field := fmt.Sprintf("SecretData[%d]", i)
		validateDataItem(field, d.Name, d.Data.Len(), MaxSecretDataSize, d.Mode, names, add)
		if d.Target != "" && !validSecretTarget(d.Target) {
			add(field+".Target", fmt.Sprintf("%q is not a file path", d.Target), "give a path relative to /run/secrets, or an absolute one, of a file")
			continue
		}
		claimPath(field, secretPath(SecretRef{Name: d.Name, Target: d.Target}), "secret", secretAt, add)
	}
	configAt := map[string]string{}
	for i, ref := range s.Configs {
		configAt[path.Clean(configTarget(ref))] = fmt.Sprintf("Configs[%d]", i)
	}
	names = map[string]bool{}
	for i, d := range s.ConfigData {
		field := fmt.Sprintf("ConfigData[%d]", i)
		validateDataItem(field, d.Name, d.Data.Len(), MaxConfigDataSize, d.Mode, names, add)
		target := configTarget(ConfigRef{Name: d.Name, Target: d.Target})
		if !path.IsAbs(target) || path.Clean(target) == "/" || strings.HasSuffix(target, "/") || strings.ContainsRune(target, 0) {
			add(field+".Target", fmt.Sprintf("%q is not an absolute file path", d.Target), "give the file's absolute path inside the container, e.g. /etc/app/config.yaml")
			continue
		}
		claimPath(field, path.Clean(target), "config", configAt, add)
	}
}

// validateDataItem checks what secrets and configs made for a job share.
func validateDataItem(field, name string, size, maxSize int, mode os.FileMode, names map[string]bool, add addSpecError) {
	switch {
	case name == "":
		add(field+".Name", "empty", "name it, e.g. \"db-password\"")
	case len(name) > maxDataNameLength || !dataNamePattern.MatchString(name):
		add(field+".Name", fmt.Sprintf("%q is not a valid name", name), fmt.Sprintf("use up to %d letters, digits, '-', '_' and '.', starting and ending with a letter or digit", maxDataNameLength))
	case names[name]:
		add(field+".Name", fmt.Sprintf("%q is used twice", name), "give each its own name")
	}
	names[name] = true
	if size < 1 || size > maxSize {
		add(field+".Data", fmt.Sprintf("%d bytes; the swarm takes 1 to %d bytes", size, maxSize), "give a non-empty content within the limit, or mount a larger file from a volume")
	}
	if mode&^os.ModePerm != 0 {
		add(field+".Mode", fmt.Sprintf("%v is not a file permission", mode), "use permission bits only, e.g. 0400")
	}
}

// validSecretTarget says a secret's Target names a file: relative ones
// stay under /run/secrets.
func validSecretTarget(target string) bool {
	clean := path.Clean(target)
	return clean != "/" && clean != "." && !strings.HasPrefix(clean, "../") && clean != ".." &&
		!strings.HasSuffix(target, "/") && !strings.ContainsRune(target, 0)
}

// claimPath notes that field's file is at p, or reports the one that is
// there already.
func claimPath(field, p, kind string, at map[string]string, add addSpecError) {
	if other, taken := at[p]; taken {
		add(field+".Target", fmt.Sprintf("%q is also the file of %s", p, other), fmt.Sprintf("give one of the %ss another Target", kind))
		return
	}
	at[p] = field
}

// madeData is a secret or config made for a job: its swarm ID and name.
type madeData struct{ id, name string }

// dataSecretRefs are the service's references to the secrets made for the
// job.
func (s *JobSpec) dataSecretRefs(made map[string]madeData) []*swarm.SecretReference {
	var out []*swarm.SecretReference
	for _, d := range s.SecretData {
		m := made[d.Name]
		target := secretTarget(SecretRef{Name: d.Name, Target: d.Target})
		out = append(out, &swarm.SecretReference{SecretID: m.id, SecretName: m.name,
			File: &swarm.SecretReferenceFileTarget{Name: target, UID: orDefault(d.UID, "0"), GID: orDefault(d.GID, "0"), Mode: fileMode(d.Mode)}})
	}
	return out
}

// dataConfigRefs are the service's references to the configs made for the
// job.
func (s *JobSpec) dataConfigRefs(made map[string]madeData) []*swarm.ConfigReference {
	var out []*swarm.ConfigReference
	for _, d := range s.ConfigData {
		m := made[d.Name]
		target := configTarget(ConfigRef{Name: d.Name, Target: d.Target})
		out = append(out, &swarm.ConfigReference{ConfigID: m.id, ConfigName: m.name,
			File: &swarm.ConfigReferenceFileTarget{Name: target, UID: orDefault(d.UID, "0"), GID: orDefault(d.GID, "0"), Mode: fileMode(d.Mode)}})
	}
	return out
}

// createJobData creates the secrets and configs made for the job named
// p.name, just before its services, and notes their IDs in p. Each create
// is seen through once sent (as a service's is); when one fails, those
// made are removed and the error says why the job did not start.
func (r *Runner) createJobData(ctx context.Context, spec *JobSpec, p *prepared) error {
	if !spec.hasData() {
		return nil
	}
	p.dataRun = randomHex(6)
	labels := spec.dataLabels(p.name, p.dataRun, r.clock.Now())
	p.ids.secretData, p.ids.configData = map[string]madeData{}, map[string]madeData{}
	for _, d := range spec.SecretData {
		name := "oneshot-" + p.dataRun + "-" + d.Name
		id, err := r.createData(ctx, "secret", swarm.Annotations{Name: name, Labels: labels}, d.Data)
		if err != nil {
			return r.dataNotMade(ctx, p, "create secret "+d.Name, err)
		}
		p.ids.secretData[d.Name] = madeData{id: id, name: name}
	}
	for _, d := range spec.ConfigData {
		name := "oneshot-" + p.dataRun + "-" + d.Name
		id, err := r.createData(ctx, "config", swarm.Annotations{Name: name, Labels: labels}, d.Data)
		if err != nil {
			return r.dataNotMade(ctx, p, "create config "+d.Name, err)
		}
		p.ids.configData[d.Name] = madeData{id: id, name: name}
	}
	r.log.Debug("oneshot: created job data", "job", p.name, "secrets", len(spec.SecretData), "configs", len(spec.ConfigData))
	return nil
}

// dataLabels are the labels of the data made for the job owner: the job's
// own labels (so that PruneLabel finds them), oneshot's, and a lease that
// covers the creates still to come before the job's first service.
func (s *JobSpec) dataLabels(owner, run string, now time.Time) map[string]string {
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	calls := time.Duration(len(s.SecretData)+len(s.ConfigData)+1) * serviceCallTimeout
	labels[LabelManaged] = "true"
	labels[LabelCreated] = now.UTC().Format(time.RFC3339Nano)
	labels[LabelDataOwner] = owner
	labels[labelDataRun] = run
	labels[LabelDataLease] = now.Add(calls + dataLease).UTC().Format(time.RFC3339Nano)
	return labels
}

// createData creates one secret or config; the request is never abandoned
// half-way.
func (r *Runner) createData(ctx context.Context, kind string, meta swarm.Annotations, data Sensitive) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serviceCallTimeout)
	defer cancel()
	if kind == "secret" {
		res, err := r.api.SecretCreate(callCtx, client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: meta, Data: data.Bytes()}})
		return res.ID, err
	}
	res, err := r.api.ConfigCreate(callCtx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: meta, Data: data.Bytes()}})
	return res.ID, err
}

// dataNotMade removes the data of this start of the job (also one whose
// create failed without saying so) and says why the job did not start.
func (r *Runner) dataNotMade(ctx context.Context, p *prepared, doing string, err error) error {
	return errors.Join(r.notStarted(ctx, p.name, doing, err), r.removeStartData(p))
}

// removeStartData removes the data made by one start of the job, by its
// run label: another start of a job of that name keeps its own.
func (r *Runner) removeStartData(p *prepared) error {
	if p.dataRun == "" {
		return nil
	}
	filters := make(client.Filters).Add("label", LabelDataOwner+"="+p.name, labelDataRun+"="+p.dataRun)
	return r.removeDataMatching(context.Background(), p.name, filters)
}

// removeJobData removes every secret and config labelled as owned by the
// job owner (LabelDataOwner); data already gone is no error. It has its own
// bound, as a service's removal does: a cancelled ctx never leaves data
// behind. Call it once the job's last service is gone.
func (r *Runner) removeJobData(ctx context.Context, owner string) error {
	return r.removeDataMatching(ctx, owner, make(client.Filters).Add("label", LabelDataOwner+"="+owner))
}

// removeDataMatching removes the secrets and configs that filters select.
func (r *Runner) removeDataMatching(ctx context.Context, owner string, filters client.Filters) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serviceCallTimeout)
	defer cancel()
	var errs []error
	secrets, err := r.api.SecretList(ctx, client.SecretListOptions{Filters: filters})
	if err != nil {
		errs = append(errs, &DataCleanupError{Kind: "secret", Owner: owner, Err: err})
	}
	for _, s := range secrets.Items {
		errs = append(errs, r.removeData(ctx, "secret", s.ID, s.Spec.Name, owner))
	}
	configs, err := r.api.ConfigList(ctx, client.ConfigListOptions{Filters: filters})
	if err != nil {
		errs = append(errs, &DataCleanupError{Kind: "config", Owner: owner, Err: err})
	}
	for _, c := range configs.Items {
		errs = append(errs, r.removeData(ctx, "config", c.ID, c.Spec.Name, owner))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.log.Debug("oneshot: removed job data", "job", owner, "secrets", len(secrets.Items), "configs", len(configs.Items))
	return nil
}

// removeData removes one secret or config, retrying a little while the
// swarm says it is in use (by a service removed a moment ago).
func (r *Runner) removeData(ctx context.Context, kind, id, name, owner string) error {
	var err error
	for attempt := range dataInUseRetries {
		if err = r.removeDataOnce(ctx, kind, id); err == nil {
			return nil
		}
		if !isInUse(err) || attempt == dataInUseRetries-1 || !sleep(r.clock, 200*time.Millisecond<<attempt, ctx.Done()) {
			break
		}
	}
	return &DataCleanupError{Kind: kind, Name: name, Owner: owner, Err: err}
}

// removeDataOnce removes one secret or config; one already gone is no
// error.
func (r *Runner) removeDataOnce(ctx context.Context, kind, id string) error {
	var err error
	if kind == "secret" {
		_, err = r.api.SecretRemove(ctx, id, client.SecretRemoveOptions{})
	} else {
		_, err = r.api.ConfigRemove(ctx, id, client.ConfigRemoveOptions{})
	}
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// isInUse says the swarm refused to remove data a service references.
func isInUse(err error) bool { return strings.Contains(err.Error(), "in use") }

// renewJobData pushes the lease of the job's data dataLease past now, so
// that Prune leaves it alone while the job runs, also between two of its
// tasks' services.
func (r *Runner) renewJobData(ctx context.Context, owner string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serviceCallTimeout)
	defer cancel()
	until := r.clock.Now().Add(dataLease).UTC().Format(time.RFC3339Nano)
	filters := make(client.Filters).Add("label", LabelDataOwner+"="+owner)
	var errs []error
	secrets, err := r.api.SecretList(ctx, client.SecretListOptions{Filters: filters})
	errs = append(errs, err)
	for _, s := range secrets.Items {
		spec := s.Spec
		spec.Labels = maps.Clone(spec.Labels)
		spec.Labels[LabelDataLease] = until
		_, err := r.api.SecretUpdate(ctx, s.ID, client.SecretUpdateOptions{Version: s.Version, Spec: spec})
		errs = append(errs, err)
	}
	configs, err := r.api.ConfigList(ctx, client.ConfigListOptions{Filters: filters})
	errs = append(errs, err)
	for _, c := range configs.Items {
		spec := c.Spec
		spec.Labels = maps.Clone(spec.Labels)
		spec.Labels[LabelDataLease] = until
		_, err := r.api.ConfigUpdate(ctx, c.ID, client.ConfigUpdateOptions{Version: c.Version, Spec: spec})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// dataRenewal is the alarm for the next renewal of a job of several
// tasks' data lease; it never fires for a job without data.
func (j *Job) dataRenewal() alarm {
	if !j.spec.hasData() {
		return alarm{}
	}
	return j.alarmAt(j.clock().Now().Add(dataRenewEvery))
}

// renewGroupData renews the lease of the data of a job of several tasks;
// a failure is only logged: the next renewal may do.
func (j *Job) renewGroupData() {
	if err := j.runner.renewJobData(context.Background(), j.name); err != nil {
		j.runner.log.Warn("oneshot: renew the lease of the job's data", "job", j.name, "err", err)
	}
}

// clearGroupData removes the data of a job of several tasks once its
// tasks' services are gone (kept, they still use it).
func (j *Job) clearGroupData() error {
	if !j.spec.hasData() || j.spec.Keep {
		return nil
	}
	err := j.runner.removeJobData(context.Background(), j.name)
	if err != nil {
		j.runner.log.Warn("oneshot: job data left behind", "job", j.name, "err", err)
	}
	return err
}

// pruneJobData removes the secrets and configs made for jobs that have no
// service left: those of the jobs whose services Prune just removed
// (justPruned), and the others once their lease has expired (see the top
// of this file). With PruneDryRun it only logs them.
func (r *Runner) pruneJobData(ctx context.Context, cfg pruneConfig, justPruned map[string]bool) error {
	filters := make(client.Filters).Add("label", LabelManaged+"=true", LabelDataOwner).Add("label", cfg.labels...)
	secrets, err := r.api.SecretList(ctx, client.SecretListOptions{Filters: filters})
	if err != nil {
		return fmt.Errorf("oneshot: list job secrets: %w", err)
	}
	configs, err := r.api.ConfigList(ctx, client.ConfigListOptions{Filters: filters})
	if err != nil {
		return fmt.Errorf("oneshot: list job configs: %w", err)
	}
	if len(secrets.Items)+len(configs.Items) == 0 {
		return nil
	}
	alive, err := r.dataOwnersAlive(ctx) // after the data: a job's service comes after its data
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range secrets.Items {
		errs = append(errs, r.pruneData(ctx, cfg, alive, justPruned, "secret", s.ID, s.Spec.Annotations, s.CreatedAt))
	}
	for _, c := range configs.Items {
		errs = append(errs, r.pruneData(ctx, cfg, alive, justPruned, "config", c.ID, c.Spec.Annotations, c.CreatedAt))
	}
	return errors.Join(errs...)
}

// dataOwnersAlive are the names of the jobs that have a service on the
// swarm or are in flight in this Runner.
func (r *Runner) dataOwnersAlive(ctx context.Context) (map[string]bool, error) {
	services, err := r.api.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", LabelManaged+"=true")})
	if err != nil {
		return nil, fmt.Errorf("oneshot: list job services: %w", err)
	}
	alive := map[string]bool{}
	for _, s := range services.Items {
		alive[s.Spec.Name] = true
		if job := s.Spec.Labels[LabelJob]; job != "" {
			alive[job] = true
		}
	}
	r.mu.Lock()
	for j := range r.inFlight {
		alive[j.name] = true
	}
	r.mu.Unlock()
	return alive, nil
}

// pruneData removes one secret or config if its job has no service left
// and either Prune just removed the last or its lease has expired.
func (r *Runner) pruneData(ctx context.Context, cfg pruneConfig, alive, justPruned map[string]bool, kind, id string, meta swarm.Annotations, created time.Time) error {
	owner, now := meta.Labels[LabelDataOwner], r.clock.Now()
	lease, err := time.Parse(time.RFC3339Nano, meta.Labels[LabelDataLease])
	if err != nil {
		lease = created.Add(dataLease)
	}
	if alive[owner] || (now.Before(lease) && !justPruned[owner]) || now.Sub(created) < cfg.olderThan {
		return nil
	}
	if cfg.dryRun {
		r.log.Info("oneshot: would prune job data", "kind", kind, "name", meta.Name, "job", owner)
		return nil
	}
	if err := r.removeDataOnce(ctx, kind, id); err != nil {
		if isInUse(err) {
			return nil // a service of another name uses it: not an orphan
		}
		return &DataCleanupError{Kind: kind, Name: meta.Name, Owner: owner, Err: err}
	}
	r.log.Info("oneshot: pruned job data", "kind", kind, "name", meta.Name, "job", owner)
	return nil
}

// prunedOwners are the jobs (owners of data) of the services Prune
// removed.
func prunedOwners(services []swarm.Service, pruned []PrunedService) map[string]bool {
	gone := map[string]bool{}
	for _, p := range pruned {
		gone[p.ID] = true
	}
	owners := map[string]bool{}
	for _, s := range services {
		if gone[s.ID] {
			owners[dataOwner(s.Spec.Name, s.Spec.Labels)] = true
		}
	}
	return owners
}

// dataOwner is the owner of the data of the job service name: the job of
// several tasks it belongs to, or itself.
func dataOwner(name string, labels map[string]string) string {
	if job := labels[LabelJob]; job != "" {
		return job
	}
	return name
}
