package oneshot

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"
)

// specFuzzFields are the fields of the JobSpec that FuzzJobSpecValidate
// builds: each a fuzzed value.
type specFuzzFields struct {
	image, name, env                    string
	mountType, mountSource, mountTarget string
	tmpfsSize                           int64
	secretName, secretTarget            string
	configName, configTarget            string
	mode                                uint32
	constraint, labelKey                string
	tasks, parallelism                  int
	global                              bool
	timeout                             int64
	retries                             int
	dataName, dataTarget                string
	dataSize                            int
	cpus                                float64
	network                             string
}

// secretMark fills the content of the spec's secret and config data: no
// error may show it.
const secretMark = "S3CR3T!"

// spec is the JobSpec of the fields: one entry in each list, the env
// entries one a line of env, and data of dataSize bytes (within the
// largest config and a byte more, so that both limits are crossed).
func (in specFuzzFields) spec() JobSpec {
	size := in.dataSize % (MaxConfigDataSize + 2)
	if size < 0 {
		size = -size
	}
	data := bytes.Repeat([]byte(secretMark), size/len(secretMark)+1)[:size]
	s := JobSpec{
		Image:       in.image,
		Name:        in.name,
		Env:         strings.Split(in.env, "\n"),
		Labels:      map[string]string{in.labelKey: "v"},
		Mounts:      []Mount{{Type: MountType(in.mountType), Source: in.mountSource, Target: in.mountTarget, TmpfsSize: in.tmpfsSize}},
		Secrets:     []SecretRef{{Name: in.secretName, Target: in.secretTarget, Mode: os.FileMode(in.mode)}},
		Configs:     []ConfigRef{{Name: in.configName, Target: in.configTarget, Mode: os.FileMode(in.mode)}},
		Networks:    []NetworkAttachment{{Name: in.network}},
		Constraints: []string{in.constraint},
		Resources:   Resources{CPULimit: in.cpus, MemoryLimit: in.tmpfsSize},
		Tasks:       in.tasks,
		Parallelism: in.parallelism,
		Global:      in.global,
		Timeout:     time.Duration(in.timeout),
		Retries:     in.retries,
		SecretData:  []SecretData{{Name: in.dataName, Target: in.dataTarget, Mode: os.FileMode(in.mode), Data: NewSensitive(data)}},
		ConfigData:  []ConfigData{{Name: in.dataName, Target: in.dataTarget, Mode: os.FileMode(in.mode), Data: NewSensitive(data)}},
	}
	if in.env == "" {
		s.Env = nil
	}
	return s
}

// goodSpecFields make a spec that Validate takes.
var goodSpecFields = specFuzzFields{
	image: "registry:5000/app:v2", name: "nightly-report", env: "A=1\nB=x=y",
	mountType: "volume", mountSource: "data", mountTarget: "/data",
	secretName: "db-password", configName: "app.yaml", configTarget: "/etc/app.yaml", mode: 0o400,
	constraint: "node.role==worker", labelKey: "team", tasks: 4, parallelism: 2,
	timeout: int64(10 * time.Minute), retries: 1, dataName: "token", dataTarget: "/etc/token", dataSize: 12,
	cpus: 0.5, network: "backend",
}

// FuzzJobSpecValidate builds a JobSpec of fuzzed fields (image, name, env
// entries, a mount, secret and config references, a network, a
// constraint, a label, tasks and parallelism, timeout, retries, CPUs, and
// secret and config data of any size). Validate never panics and leaves
// the spec as it was; every error it returns is a *SpecError (errors.As
// over the joined errors) whose Field is non-empty and names a field that
// was set, whose message names that field and says what is wrong, and
// that never shows the data's content; and a field that is plainly wrong
// (a negative count or duration, a relative mount target, an empty image,
// data of no byte or too many) gets an error of its own.
func FuzzJobSpecValidate(f *testing.F) {
	add := func(in specFuzzFields) {
		f.Add(in.image, in.name, in.env, in.mountType, in.mountSource, in.mountTarget, in.tmpfsSize,
			in.secretName, in.secretTarget, in.configName, in.configTarget, in.mode, in.constraint, in.labelKey,
			in.tasks, in.parallelism, in.global, in.timeout, in.retries, in.dataName, in.dataTarget, in.dataSize, in.cpus, in.network)
	}
	add(goodSpecFields)
	bad := goodSpecFields
	bad.image, bad.name, bad.env, bad.mountType, bad.mountTarget = "App:V2", "-x", "=1\nA B=1", "bind", "data"
	add(bad)
	bad = goodSpecFields
	bad.secretTarget, bad.dataTarget, bad.configTarget, bad.mode = "../x", "/etc/app.yaml", "etc/app.yaml", 0o1777
	add(bad)
	bad = goodSpecFields
	bad.tasks, bad.parallelism, bad.global, bad.timeout, bad.retries, bad.cpus = -1, -1, true, -1, -1, math.NaN()
	add(bad)
	bad = goodSpecFields
	bad.dataSize, bad.dataName, bad.labelKey, bad.constraint, bad.mountType = MaxSecretDataSize+1, "-x-", "oneshot.x", "node.role", "tmpfs"
	add(bad)
	bad = goodSpecFields
	bad.image, bad.dataSize, bad.tasks, bad.name, bad.network = "", 0, maxTasks+1, strings.Repeat("n", 63), ""
	add(bad)

	f.Fuzz(func(t *testing.T, image, name, env, mountType, mountSource, mountTarget string, tmpfsSize int64,
		secretName, secretTarget, configName, configTarget string, mode uint32, constraint, labelKey string,
		tasks, parallelism int, global bool, timeout int64, retries int, dataName, dataTarget string, dataSize int, cpus float64, network string) {
		in := specFuzzFields{image, name, env, mountType, mountSource, mountTarget, tmpfsSize, secretName, secretTarget,
			configName, configTarget, mode, constraint, labelKey, tasks, parallelism, global, timeout, retries,
			dataName, dataTarget, dataSize, cpus, network}
		spec := in.spec()
		before := in.spec()
		err := spec.Validate()
		if !math.IsNaN(cpus) && !reflect.DeepEqual(spec, before) { // NaN is not NaN
			t.Fatalf("Validate changed the spec")
		}
		fields := checkSpecErrors(t, err, in)
		has := func(field string) bool { return fields[field] }
		size := spec.SecretData[0].Data.Len()
		for _, c := range []struct {
			wrong bool
			field string
		}{
			{in.image == "", "Image"},
			{tasks < 0 || tasks > maxTasks, "Tasks"},
			{parallelism < 0, "Parallelism"},
			{timeout < 0, "Timeout"},
			{retries < 0, "Retries"},
			{cpus < 0 || math.IsNaN(cpus) || math.IsInf(cpus, 0) || tmpfsSize < 0, "Resources"},
			{!path.IsAbs(mountTarget), "Mounts[0].Target"},
			{network == "", "Networks[0].Name"},
			{secretName == "", "Secrets[0].Name"},
			{size == 0 || size > MaxSecretDataSize, "SecretData[0].Data"},
			{size == 0 || size > MaxConfigDataSize, "ConfigData[0].Data"},
			{os.FileMode(mode)&^os.ModePerm != 0, "SecretData[0].Mode"},
			{dataName == "", "SecretData[0].Name"},
			{strings.HasPrefix(labelKey, "oneshot."), "Labels[" + labelKey + "]"},
		} {
			if c.wrong && !has(c.field) {
				t.Fatalf("%+v: no error for %s: %v", in, c.field, err)
			}
		}
	})
}

// checkSpecErrors checks that each error of err is a *SpecError that
// names a field the spec of in sets, says what is wrong, and does not
// show the data's content; it returns the fields at fault.
func checkSpecErrors(t *testing.T, err error, in specFuzzFields) map[string]bool {
	t.Helper()
	fields := map[string]bool{}
	if err == nil {
		return fields
	}
	parts := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		parts = joined.Unwrap()
	}
	set := map[string]bool{
		"Image": true, "Name": true, "Env": true, "Labels": true, "Mounts": true, "Secrets": true,
		"Configs": true, "Networks": true, "Constraints": true, "Resources": true, "Tasks": true,
		"Parallelism": true, "Timeout": true, "Retries": true, "SecretData": true, "ConfigData": true,
	}
	checkData := !strings.Contains(fmt.Sprintf("%+v", in), secretMark)
	for _, part := range parts {
		var specErr *SpecError
		if !errors.As(part, &specErr) {
			t.Fatalf("%+v: not a *SpecError: %v", in, part)
		}
		root, _, _ := strings.Cut(specErr.Field, "[")
		root, _, _ = strings.Cut(root, ".")
		switch {
		case specErr.Field == "" || specErr.Problem == "":
			t.Fatalf("%+v: an error without a field or a problem: %#v", in, specErr)
		case !set[root]:
			t.Fatalf("%+v: an error for a field the spec leaves alone: %v", in, part)
		case !strings.Contains(part.Error(), "JobSpec."+specErr.Field+": "):
			t.Fatalf("%+v: the message does not name the field %s: %v", in, specErr.Field, part)
		case checkData && strings.Contains(part.Error(), secretMark):
			t.Fatalf("%+v: the error shows the data: %v", in, part)
		}
		fields[specErr.Field] = true
	}
	if !errors.As(err, new(*SpecError)) {
		t.Fatalf("%+v: errors.As finds no *SpecError in %v", in, err)
	}
	return fields
}
