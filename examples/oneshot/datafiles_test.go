package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

// --secret-file, --secret-env and --config-file.

func TestParseNameValue(t *testing.T) {
	cases := []struct {
		spec, key, value string
		ok               bool
	}{
		{spec: "pw=./pw.txt", key: "pw", value: "./pw.txt", ok: true},
		{spec: "pw=/a=b/c", key: "pw", value: "/a=b/c", ok: true}, // cut at the first '='
		{spec: "/etc/app.yaml=app.yaml", key: "/etc/app.yaml", value: "app.yaml", ok: true},
		{spec: "pw= x", key: "pw", value: " x", ok: true},
		{spec: "pw"},
		{spec: "pw="},
		{spec: "=file"},
		{spec: "="},
		{spec: ""},
	}
	for _, tc := range cases {
		key, value, err := parseNameValue(tc.spec, "NAME=PATH")
		if !tc.ok {
			assert.EqualError(t, err, "want NAME=PATH", tc.spec)
			continue
		}
		require.NoError(t, err, tc.spec)
		assert.Equal(t, [2]string{tc.key, tc.value}, [2]string{key, value}, tc.spec)
	}
}

func FuzzParseNameValue(f *testing.F) {
	for _, seed := range []string{"pw=./pw.txt", "=", "a==b", "", "/etc/x=y"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		key, value, err := parseNameValue(spec, "NAME=PATH")
		if err != nil {
			return
		}
		if key == "" || value == "" || strings.Contains(key, "=") || key+"="+value != spec {
			t.Fatalf("%q parsed as %q and %q", spec, key, value)
		}
	})
}

func TestConfigDataName(t *testing.T) {
	for target, want := range map[string]string{
		"/etc/app.yaml":                  "app.yaml",
		"/migrations/0001_users.sql":     "0001_users.sql",
		"/etc/my app/conf ig.ini":        "conf-ig.ini",
		"/":                              "config-3",
		"/etc/.hidden":                   "hidden",
		"/x/" + strings.Repeat("a", 50):  strings.Repeat("a", 40),
		"/x/ünïcode":                     "n-code",
		"/x/___":                         "config-3",
		"/etc/app.d/10-settings.conf.in": "10-settings.conf.in",
	} {
		got := configDataName(target, 3)
		assert.Equal(t, want, got, target)
	}
}

// dataSpec applies the flags' options to a spec.
func dataSpec(t *testing.T, args ...string) (oneshot.JobSpec, error) {
	t.Helper()
	f, err := parseRunFlags(append(args, "app:v1"))
	require.NoError(t, err)
	opts, err := f.options()
	if err != nil {
		return oneshot.JobSpec{}, err
	}
	spec := oneshot.JobSpec{Image: "app:v1"}
	for _, opt := range opts {
		require.NoError(t, opt(&spec))
	}
	return spec, spec.Validate()
}

func TestDataFlags(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte("s3cret\n"), 0o600))
	cfg := filepath.Join(dir, "app.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("mode: fast\n"), 0o644))
	t.Setenv("ONESHOT_TEST_TOKEN", "t0ken")

	spec, err := dataSpec(t, "--secret-file", "pw="+pw, "--secret-env", "token=ONESHOT_TEST_TOKEN",
		"--config-file", "/etc/app.yaml="+cfg, "--config-file", "/etc/other/app.yaml="+cfg)
	require.NoError(t, err)
	require.Len(t, spec.SecretData, 2)
	assert.Equal(t, "pw", spec.SecretData[0].Name)
	assert.Equal(t, "s3cret\n", string(spec.SecretData[0].Data.Bytes()))
	assert.Equal(t, "token", spec.SecretData[1].Name)
	assert.Equal(t, "t0ken", string(spec.SecretData[1].Data.Bytes()))
	require.Len(t, spec.ConfigData, 2)
	assert.Equal(t, "app.yaml", spec.ConfigData[0].Name)
	assert.Equal(t, "/etc/app.yaml", spec.ConfigData[0].Target)
	assert.Equal(t, "config-1", spec.ConfigData[1].Name, "two files of one name: the second is numbered")
}

func TestDataFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	require.NoError(t, os.WriteFile(big, make([]byte, oneshot.MaxSecretDataSize+1), 0o600))
	t.Setenv("ONESHOT_TEST_EMPTY", "")
	os.Unsetenv("ONESHOT_TEST_UNSET")
	cases := []struct {
		args []string
		says string
	}{
		{[]string{"--secret-file", "pw"}, `--secret-file "pw": want NAME=PATH`},
		{[]string{"--secret-file", "pw=" + filepath.Join(dir, "none")}, `--secret-file "pw=` + filepath.Join(dir, "none") + `": open `},
		{[]string{"--secret-file", "pw=" + big}, "is larger than a swarm secret may be (511999 bytes)"},
		{[]string{"--secret-env", "pw=ONESHOT_TEST_UNSET"}, `--secret-env "pw=ONESHOT_TEST_UNSET": the variable ONESHOT_TEST_UNSET is not set`},
		{[]string{"--secret-env", "pw"}, `--secret-env "pw": want NAME=VAR`},
		{[]string{"--config-file", "/etc/x"}, `--config-file "/etc/x": want TARGET=PATH`},
		{[]string{"--config-file", "/etc/x=" + filepath.Join(dir, "none")}, "--config-file"},
	}
	for _, tc := range cases {
		_, err := dataSpec(t, tc.args...)
		require.Error(t, err, tc.args)
		assert.Contains(t, err.Error(), tc.says, tc.args)
	}
	_, err := dataSpec(t, "--secret-env", "pw=ONESHOT_TEST_EMPTY")
	assert.ErrorContains(t, err, "SecretData[0].Data: 0 bytes", "the library refuses an empty secret")
}

func TestDataFlagErrorsExitBeforeAnythingIsCreated(t *testing.T) {
	os.Unsetenv("ONESHOT_TEST_UNSET")
	code, stdout, stderr := runForTest("run", "--secret-env", "pw=ONESHOT_TEST_UNSET", "app:v1")
	assert.Equal(t, 125, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "oneshot: --secret-env \"pw=ONESHOT_TEST_UNSET\": the variable ONESHOT_TEST_UNSET is not set")
}
