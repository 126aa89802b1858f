package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

func TestParseEnv(t *testing.T) {
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"HOME": "/root", "EMPTY": ""}[k]
		return v, ok
	}
	cases := []struct {
		kv, key, value string
		ok, err        bool
	}{
		{kv: "A=1", key: "A", value: "1", ok: true},
		{kv: "A=x=y", key: "A", value: "x=y", ok: true},
		{kv: "A=", key: "A", value: "", ok: true},
		{kv: "A= spaced ", key: "A", value: " spaced ", ok: true},
		{kv: "HOME", key: "HOME", value: "/root", ok: true},
		{kv: "EMPTY", key: "EMPTY", value: "", ok: true},
		{kv: "UNSET", key: "UNSET", ok: false},
		{kv: "=1", err: true},
		{kv: "", err: true},
		{kv: "A B=1", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.kv, func(t *testing.T) {
			key, value, ok, err := parseEnv(tc.kv, lookup)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.key, key)
			assert.Equal(t, tc.value, value)
			assert.Equal(t, tc.ok, ok)
		})
	}
}

func TestParseLabel(t *testing.T) {
	cases := []struct {
		kv, key, value string
		err            bool
	}{
		{kv: "team=data", key: "team", value: "data"},
		{kv: "a=b=c", key: "a", value: "b=c"},
		{kv: "flag", key: "flag", value: ""},
		{kv: "=x", err: true},
		{kv: "", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.kv, func(t *testing.T) {
			key, value, err := parseLabel(tc.kv)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, [2]string{tc.key, tc.value}, [2]string{key, value})
		})
	}
}

func TestParseNetwork(t *testing.T) {
	cases := []struct {
		spec    string
		name    string
		aliases []string
		err     bool
	}{
		{spec: "backend", name: "backend"},
		{spec: "name=backend", name: "backend"},
		{spec: "name=backend,alias=db,alias=pg", name: "backend", aliases: []string{"db", "pg"}},
		{spec: "alias=db", err: true},
		{spec: "name=backend,driver-opt=x=y", err: true},
		{spec: `name="unterminated`, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			name, aliases, err := parseNetwork(tc.spec)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.name, name)
			assert.Equal(t, tc.aliases, aliases)
		})
	}
}

func TestParseFileRef(t *testing.T) {
	cases := []struct {
		spec string
		want fileRef
		err  bool
	}{
		{spec: "db-password", want: fileRef{Name: "db-password"}},
		{spec: "source=db-password,target=/etc/app/pw,uid=1000,gid=1000,mode=0400",
			want: fileRef{Name: "db-password", Target: "/etc/app/pw", UID: "1000", GID: "1000", Mode: 0o400}},
		{spec: "src=cfg,target=app.yml", want: fileRef{Name: "cfg", Target: "app.yml"}},
		{spec: "Source=cfg,mode=440", want: fileRef{Name: "cfg", Mode: 0o440}},
		{spec: `source=cfg,"target=/etc/a,b"`, want: fileRef{Name: "cfg", Target: "/etc/a,b"}},
		{spec: "target=/x", err: true},
		{spec: "source=x,mode=rw", err: true},
		{spec: "source=x,mode=0999", err: true},
		{spec: "source=x,mode=01777", err: true},
		{spec: "source=x,owner=me", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := parseFileRef(tc.spec)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFileRefBecomesSecretAndConfig(t *testing.T) {
	ref := fileRef{Name: "n", Target: "/t", UID: "1", GID: "2", Mode: 0o400}
	assert.Equal(t, oneshot.SecretRef{Name: "n", Target: "/t", UID: "1", GID: "2", Mode: 0o400}, ref.secretRef())
	assert.Equal(t, oneshot.ConfigRef{Name: "n", Target: "/t", UID: "1", GID: "2", Mode: 0o400}, ref.configRef())
}
