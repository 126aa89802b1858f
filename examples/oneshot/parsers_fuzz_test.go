package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

// Fuzz tests of the parsers of the flags' values. Each checks, for any
// value: no panic; a value refused is an error that names the flag, as
// `oneshot run` prints it (a value the parser takes but the library
// refuses too); a value taken means what it says, which the parser's
// canonical form written back shows.

// cliSpec is what `oneshot run ARGS app:v1` makes before anything is
// created: the flags (nil when they do not parse), the spec with the
// flags' options applied as Run applies them, and the first error in the
// way: parsing the flags, a value of a flag, or the spec's validation.
func cliSpec(args ...string) (*runFlags, oneshot.JobSpec, error) {
	f, err := parseRunFlags(append(args, "app:v1"))
	if err != nil {
		return nil, oneshot.JobSpec{}, err
	}
	opts, err := f.options()
	if err != nil {
		return f, oneshot.JobSpec{}, err
	}
	spec := f.jobBase(oneshot.JobSpec{})
	for _, o := range opts {
		if err := o(&spec); err != nil {
			return f, spec, err
		}
	}
	return f, spec, spec.Validate()
}

// checkNamesFlag checks that each error of err (one a line, as `oneshot
// run` prints them) names one of the flags (e.g. "--mount" or "-v").
func checkNamesFlag(t *testing.T, f *runFlags, err error, value string, flags ...string) {
	t.Helper()
	for _, part := range jobexit.Parts(err) {
		msg := printed(f, part)
		named := false
		for _, flag := range flags {
			named = named || strings.Contains(msg, flag)
		}
		if !named {
			t.Fatalf("%q: the error does not name %s: %q", value, strings.Join(flags, " or "), msg)
		}
	}
}

// csvLine writes fields as docker's long form reads them: a line of
// comma-separated values, quoted where they must be.
func csvLine(t *testing.T, fields ...string) string {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(fields); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// mountSpec is m as --mount writes it.
func mountSpec(t *testing.T, m oneshot.Mount) string {
	fields := []string{"type=" + string(m.Type), "source=" + m.Source, "target=" + m.Target, "readonly=" + strconv.FormatBool(m.ReadOnly)}
	if m.TmpfsSize != 0 {
		fields = append(fields, "tmpfs-size="+strconv.FormatInt(m.TmpfsSize, 10))
	}
	return csvLine(t, fields...)
}

// FuzzParseMount feeds --mount any value. A value taken has a target, a
// size of zero or more, and written back in full (every key, canonical
// values) gives the same mount; a value refused, by the parser or by the
// library, is an error that names --mount.
func FuzzParseMount(f *testing.F) {
	for _, seed := range []string{
		"type=volume,source=data,target=/data", "target=/cache", "type=bind,src=/srv,dst=/in,readonly",
		"Type=bind,Source=/srv,Target=/in,RO=1", "type=tmpfs,target=/scratch,tmpfs-size=64m", `type=bind,"source=/a,b",target=/c`,
		"type=volume,source=data", "target=/x,volume-driver=nfs", "target=/x,readonly=maybe", `target="/x`, "",
		"target=/x,tmpfs-size=99999999999999999999p", "type=tmpfs,target=/x,tmpfs-size=-1", " target =/x", "target=/x,,",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := parseMount(spec)
		if err == nil {
			if m.Target == "" || m.TmpfsSize < 0 {
				t.Fatalf("%q gave %+v", spec, m)
			}
			again := mountSpec(t, m)
			if m2, err := parseMount(again); err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("%q gave %+v, written back as %q: %+v, %v", spec, m, again, m2, err)
			}
		}
		flags, _, err := cliSpec("--mount", spec)
		if err != nil {
			checkNamesFlag(t, flags, err, spec, "--mount")
		}
	})
}

// FuzzParseVolume feeds -v any value. A value taken is SOURCE:TARGET[:MODE]
// or TARGET alone, written back so it gives the same mount; a bind mount
// is one whose source is a path; a value refused, by the parser or the
// library, is an error that names -v.
func FuzzParseVolume(f *testing.F) {
	for _, seed := range []string{
		"data:/data", "data:/data:ro", "/srv/in:/in:rw", "/cache", "./in:/in", "a:/b:rx", ":/b", "a:", "a:/b:ro:x", "",
		"data:relative", "/a:/b:", "c:\\x:/y",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := parseVolume(spec)
		if err == nil {
			again := m.Target
			if m.Source != "" {
				again = m.Source + ":" + m.Target
			}
			if m.ReadOnly {
				again += ":ro"
			}
			m2, err := parseVolume(again)
			if err != nil || !reflect.DeepEqual(m, m2) || (m.Type == oneshot.MountBind) != strings.HasPrefix(m.Source, "/") {
				t.Fatalf("%q gave %+v, written back as %q: %+v, %v", spec, m, again, m2, err)
			}
		}
		flags, _, err := cliSpec("-v", spec)
		if err != nil {
			checkNamesFlag(t, flags, err, spec, "-v")
		}
	})
}

// FuzzParseTmpfs feeds --tmpfs any value. A value taken is PATH with
// options size=SIZE, ro and rw only; written back (size in bytes) it gives
// the same mount; a value refused, by the parser or the library, is an
// error that names --tmpfs.
func FuzzParseTmpfs(f *testing.F) {
	for _, seed := range []string{
		"/scratch", "/scratch:size=64m", "/scratch:size=64m,ro", "/scratch:rw,size=1.5g", "/x:size=big", "/x:mode=1777",
		"/x:ro=false", "/x:", "scratch", "", "/x:size=", "/x:size=99999999999999999999p", "/x:a:b",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := parseTmpfs(spec)
		if err == nil {
			_, options, _ := strings.Cut(spec, ":")
			for _, opt := range strings.Split(options, ",") {
				if key, _, _ := strings.Cut(opt, "="); options != "" && opt != "ro" && opt != "rw" && key != "size" {
					t.Fatalf("%q: the option %q was taken", spec, opt)
				}
			}
			again := m.Target + ":size=" + strconv.FormatInt(m.TmpfsSize, 10)
			if m.ReadOnly {
				again += ",ro"
			}
			if m2, err := parseTmpfs(again); err != nil || !reflect.DeepEqual(m, m2) || m.TmpfsSize < 0 {
				t.Fatalf("%q gave %+v, written back as %q: %+v, %v", spec, m, again, m2, err)
			}
		}
		flags, _, err := cliSpec("--tmpfs", spec)
		if err != nil {
			checkNamesFlag(t, flags, err, spec, "--tmpfs")
		}
	})
}

// FuzzParseFileRef feeds --secret and --config any value. A value taken
// in the long form has a source; any value taken, written back in the long
// form (mode in octal), gives the same reference; a value refused, by the
// parser or the library, is an error that names the flag.
func FuzzParseFileRef(f *testing.F) {
	for _, seed := range []string{
		"db-password", "source=db-password,target=/etc/app/pw,uid=1000,gid=1000,mode=0400", "src=x,mode=0o440",
		"source=x,mode=0888", "source=x,mode=1000", "target=/x", "source=x,colour=blue", `source="a,b"`, "", "source=",
		"SOURCE=x,Target=y", "a,b", "source=x,target=../../etc/passwd", "source=x,target=/etc/x,mode=-1",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, spec string, config bool) {
		ref, err := parseFileRef(spec)
		if err == nil {
			if strings.Contains(spec, "=") && ref.Name == "" {
				t.Fatalf("%q gave %+v: no source", spec, ref)
			}
			if ref.Name != "" && !strings.Contains(spec, "\r") { // the long form reads CRLF as LF
				again := csvLine(t, "source="+ref.Name, "target="+ref.Target, "uid="+ref.UID, "gid="+ref.GID,
					fmt.Sprintf("mode=0%o", ref.Mode))
				if ref2, err := parseFileRef(again); err != nil || ref != ref2 {
					t.Fatalf("%q gave %+v, written back as %q: %+v, %v", spec, ref, again, ref2, err)
				}
			}
		}
		name := "--secret"
		if config {
			name = "--config"
		}
		flags, _, err := cliSpec(name, spec)
		if err != nil {
			checkNamesFlag(t, flags, err, spec, name)
		}
	})
}

// FuzzParseNetwork feeds --network any value. A value taken in the long
// form has a name; any value taken, written back in the long form, gives
// the same name and aliases; a value refused, by the parser or the
// library, is an error that names --network.
func FuzzParseNetwork(f *testing.F) {
	for _, seed := range []string{
		"backend", "name=backend,alias=db,alias=primary", "alias=x", "name=x,colour=blue", `name="a,b"`, "", "name=",
		"NAME=x,Alias=y", `name="x`, "name=x\nalias=y",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		name, aliases, err := parseNetwork(spec)
		if err == nil {
			if strings.Contains(spec, "=") && name == "" {
				t.Fatalf("%q: no name", spec)
			}
			if name != "" && !strings.Contains(spec, "\r") { // the long form reads CRLF as LF
				fields := []string{"name=" + name}
				for _, a := range aliases {
					fields = append(fields, "alias="+a)
				}
				again := csvLine(t, fields...)
				name2, aliases2, err := parseNetwork(again)
				if err != nil || name2 != name || fmt.Sprintf("%q", aliases) != fmt.Sprintf("%q", aliases2) {
					t.Fatalf("%q gave %q %q, written back as %q: %q %q, %v", spec, name, aliases, again, name2, aliases2, err)
				}
			}
		}
		flags, _, err := cliSpec("--network", spec)
		if err != nil {
			checkNamesFlag(t, flags, err, spec, "--network")
		}
	})
}

// sizeUnits are the units of sizes, from bytes to pebibytes.
var sizeUnits = []string{"", "k", "m", "g", "t", "p"}

// FuzzParseBytes feeds the size parser (--memory, --reserve-memory,
// tmpfs-size) any value, and any whole number of any unit. A size taken
// is zero or more, and its number of bytes parses to the same size; a
// whole number N of a unit is N times the unit, or an error when that is
// too large; a size refused is an error that quotes it, and that names
// the flag.
func FuzzParseBytes(f *testing.F) {
	for _, seed := range []string{
		"", "100", "100b", "2k", "512m", "512MiB", "1.5g", "1 g", "1p", "m", "-1m", "1e3", "1.g", " 1m", "1mm",
		"8191p", "8192p", "9223372036854775807", "9223372036854775808", "99999999999999999999p", "0.0000001k",
	} {
		f.Add(seed, uint64(1), uint8(0))
	}
	f.Add("", uint64(8191), uint8(5))
	f.Add("", uint64(8192), uint8(5))
	f.Add("", uint64(1)<<63, uint8(0))
	f.Fuzz(func(t *testing.T, s string, n uint64, unit uint8) {
		size, err := parseBytes(s)
		switch {
		case err != nil && !strings.Contains(err.Error(), strconv.Quote(s)):
			t.Fatalf("%q: the error does not quote the value: %v", s, err)
		case err == nil && size < 0:
			t.Fatalf("%q gave %d", s, size)
		case err == nil:
			if again, err := parseBytes(strconv.FormatInt(size, 10)); err != nil || again != size {
				t.Fatalf("%q gave %d, written back: %d, %v", s, size, again, err)
			}
		}
		flags, spec, err := cliSpec("--memory", s)
		if err != nil {
			checkNamesFlag(t, flags, err, s, "--memory")
		} else if spec.Resources.MemoryLimit != size {
			t.Fatalf("--memory %q gave %d, not %d", s, spec.Resources.MemoryLimit, size)
		}

		u := int(unit) % len(sizeUnits)
		whole := strconv.FormatUint(n, 10) + sizeUnits[u]
		size, err = parseBytes(whole)
		fits := n < 1<<(63-10*u)
		if fits && (err != nil || size != int64(n)<<(10*u)) {
			t.Fatalf("%q gave %d, %v", whole, size, err)
		}
		if !fits && err == nil {
			t.Fatalf("%q, 2^63 bytes or more, gave %d", whole, size)
		}
	})
}

// durationFlags are the flags that take a duration, and the field each
// sets.
var durationFlags = []struct {
	flag  string
	field func(oneshot.JobSpec) time.Duration
}{
	{"--timeout", func(s oneshot.JobSpec) time.Duration { return s.Timeout }},
	{"--schedule-timeout", func(s oneshot.JobSpec) time.Duration { return s.ScheduleTimeout }},
	{"--stop-timeout", func(s oneshot.JobSpec) time.Duration { return s.StopGracePeriod }},
	{"--retry-delay", func(s oneshot.JobSpec) time.Duration { return s.RetryDelay }},
}

// FuzzDurationFlags feeds the duration flags any value. A value taken
// is time.ParseDuration's, in the spec's field, and its String parses to
// the same duration; a value refused (not a duration, or negative) is an
// error that names the flag.
func FuzzDurationFlags(f *testing.F) {
	for _, seed := range []string{"10m", "1h30m", "0", "1.5s", "-1s", "soon", "", "10", "9223372036854775807ns", "9999999h", "1µs"} {
		for i := range durationFlags {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		d := durationFlags[int(which)%len(durationFlags)]
		flags, spec, err := cliSpec(d.flag, value)
		want, parseErr := time.ParseDuration(value)
		switch {
		case err != nil:
			checkNamesFlag(t, flags, err, value, strings.TrimPrefix(d.flag, "-"))
			if parseErr == nil && want >= 0 {
				t.Fatalf("%s %q: refused: %v", d.flag, value, err)
			}
		case parseErr != nil || want < 0:
			t.Fatalf("%s %q: taken as %v", d.flag, value, d.field(spec))
		case d.field(spec) != want:
			t.Fatalf("%s %q: %v, not %v", d.flag, value, d.field(spec), want)
		}
		if parseErr == nil {
			if again, err := time.ParseDuration(want.String()); err != nil || again != want {
				t.Fatalf("%q is %v, written back: %v, %v", value, want, again, err)
			}
		}
	})
}

// fuzzSecretVar is the variable that --secret-env reads in FuzzDataFlags.
const fuzzSecretVar = "ONESHOT_FUZZ_SECRET"

// FuzzDataFlags feeds --secret-file NAME=PATH, --secret-env NAME=VAR and
// --config-file TARGET=PATH (twice, with two targets) any names and
// targets, with a file or variable of any content. A value refused, by
// the parser or the library, is an error that names the flag and never
// shows the content; a value taken gives the data its name (or a config
// its target) with the content as it was; and two config files at two
// distinct absolute file paths, of valid content, always make a valid
// spec (the configs' names, made from the targets, are valid and unique).
func FuzzDataFlags(f *testing.F) {
	for _, seed := range [][2]string{
		{"pw", "/etc/app.yaml"}, {"db-password", "/etc/other/app.yaml"}, {"", ""}, {"=", "/"}, {"a=b", "/x/"},
		{"-x-", "relative"}, {strings.Repeat("n", 41), "/etc/" + strings.Repeat("n", 50)}, {"ünï", "/x/ünïcode"},
		{"config-1", "/a/config-1"}, {".hidden", "/etc/.hidden"},
	} {
		for kind := range 3 {
			f.Add(uint8(kind), seed[0], seed[1], []byte("s3cret-content\n"))
		}
	}
	f.Add(uint8(2), "/a/config-1", "/b/config-1", []byte("x"))
	f.Add(uint8(0), "pw", "", []byte{})
	f.Fuzz(func(t *testing.T, kind uint8, key, key2 string, content []byte) {
		if len(content) > oneshot.MaxSecretDataSize+1 {
			content = content[:oneshot.MaxSecretDataSize+1]
		}
		if strings.ContainsRune(string(content), 0) {
			t.Skip() // not in an environment variable
		}
		file := filepath.Join(t.TempDir(), "data")
		if err := os.WriteFile(file, content, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(fuzzSecretVar, string(content))
		var args []string
		var flag string
		switch kind % 3 {
		case 0:
			flag = "--secret-file"
			args = []string{flag, key + "=" + file}
		case 1:
			flag = "--secret-env"
			args = []string{flag, key + "=" + fuzzSecretVar}
		default:
			flag = "--config-file"
			args = []string{flag, key + "=" + file, flag, key2 + "=" + file}
		}
		flags, spec, err := cliSpec(args...)
		if err != nil {
			checkNamesFlag(t, flags, err, strings.Join(args, " "), flag)
			if len(content) >= 8 && !strings.Contains(key+key2+file, string(content)) && strings.Contains(printed(flags, err), string(content)) {
				t.Fatalf("%q: the error shows the content: %v", args, err)
			}
			configsFit := path.IsAbs(key) && path.IsAbs(key2) && !strings.HasSuffix(key, "/") && !strings.HasSuffix(key2, "/") &&
				path.Clean(key) != "/" && path.Clean(key2) != "/" && path.Clean(key) != path.Clean(key2) &&
				!strings.Contains(key+key2, "=") && !strings.ContainsRune(key+key2, 0) && len(content) > 0 && len(content) <= oneshot.MaxConfigDataSize
			if kind%3 == 2 && configsFit {
				t.Fatalf("%q: two config files at two paths refused: %s", args, printed(flags, err))
			}
			return
		}
		switch kind % 3 {
		case 0, 1:
			d := spec.SecretData[0]
			if d.Name != key || !bytes.Equal(d.Data.Bytes(), content) {
				t.Fatalf("%q gave the secret %q of %d bytes", args, d.Name, d.Data.Len())
			}
		default:
			for i, target := range []string{key, key2} {
				d := spec.ConfigData[i]
				if d.Target != target || !bytes.Equal(d.Data.Bytes(), content) {
					t.Fatalf("%q gave the config %q at %q of %d bytes", args, d.Name, d.Target, d.Data.Len())
				}
			}
		}
	})
}

// printed is what `oneshot run` prints for err: explained when the flags
// parsed (f is not nil), as is otherwise.
func printed(f *runFlags, err error) string {
	if f == nil {
		return err.Error()
	}
	return f.explainError(err)
}

// TestWhatTheFuzzTestsFound pins the bugs that the fuzz tests' properties
// caught: sizes of 2^63 bytes or more overflowed to a negative size (and
// whole sizes beyond 2^53 lost bytes to float rounding), --tmpfs took
// ro=false as read-only, and a --config-file whose config was renamed
// config-N could clash with the config an earlier target had named so.
func TestWhatTheFuzzTestsFound(t *testing.T) {
	sizes := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "8191p", want: 8191 << 50},
		{in: "8192p", err: "too large"},
		{in: "9223372036854775807", want: 1<<63 - 1},
		{in: "9223372036854775808", err: "too large"},
		{in: "99999999999999999999p", err: "too large"},
		{in: "9007199254740993", want: 1<<53 + 1},
		{in: "1.5g", want: 3 << 29},
		{in: "0.5k", want: 512},
	}
	for _, tc := range sizes {
		got, err := parseBytes(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: got %d, %v; want an error saying %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: got %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}

	for _, spec := range []string{"/x:ro=false", "/x:ro=true", "/x:rw=", "/x:size=1m,rw=ro"} {
		if m, err := parseTmpfs(spec); err == nil || !strings.Contains(err.Error(), "takes no value") {
			t.Errorf("--tmpfs %q: got %+v, %v; want an error", spec, m, err)
		}
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "data")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	configs := []struct {
		targets []string
		names   []string
	}{
		{[]string{"/a/config-1", "/b/config-1"}, []string{"config-1", "config-1-2"}},
		{[]string{"/a/app.yaml", "/b/app.yaml", "/c/config-1"}, []string{"app.yaml", "config-1", "config-2"}},
		{[]string{"/a/x", "/b/x"}, []string{"x", "config-1"}},
	}
	for _, tc := range configs {
		var args []string
		for _, target := range tc.targets {
			args = append(args, "--config-file", target+"="+file)
		}
		_, spec, err := cliSpec(args...)
		if err != nil {
			t.Errorf("%q: %v", args, err)
			continue
		}
		var names []string
		for _, d := range spec.ConfigData {
			names = append(names, d.Name)
		}
		if !reflect.DeepEqual(names, tc.names) {
			t.Errorf("%q: the configs are named %q, want %q", args, names, tc.names)
		}
	}
}
