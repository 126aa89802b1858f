package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

func TestParseMount(t *testing.T) {
	cases := []struct {
		spec string
		want oneshot.Mount
		err  bool
	}{
		{spec: "type=volume,source=data,target=/data", want: oneshot.Mount{Type: oneshot.MountVolume, Source: "data", Target: "/data"}},
		{spec: "source=data,target=/data", want: oneshot.Mount{Type: oneshot.MountVolume, Source: "data", Target: "/data"}},
		{spec: "target=/cache", want: oneshot.Mount{Type: oneshot.MountVolume, Target: "/cache"}},
		{spec: "type=bind,src=/srv,dst=/in,readonly", want: oneshot.Mount{Type: oneshot.MountBind, Source: "/srv", Target: "/in", ReadOnly: true}},
		{spec: "type=bind,source=/srv,destination=/in,ro=false", want: oneshot.Mount{Type: oneshot.MountBind, Source: "/srv", Target: "/in"}},
		{spec: "Type=bind,Source=/srv,Target=/in,RO=1", want: oneshot.Mount{Type: oneshot.MountBind, Source: "/srv", Target: "/in", ReadOnly: true}},
		{spec: "type=tmpfs,target=/scratch,tmpfs-size=64m", want: oneshot.Mount{Type: oneshot.MountTmpfs, Target: "/scratch", TmpfsSize: 64 << 20}},
		{spec: `type=bind,"source=/a,b",target=/c`, want: oneshot.Mount{Type: oneshot.MountBind, Source: "/a,b", Target: "/c"}},
		{spec: "type=volume,source=data", err: true},
		{spec: "type=volume,target=/x,colour=blue", err: true},
		{spec: "type=volume,target=/x,volume-driver=nfs", err: true},
		{spec: "type=tmpfs,target=/x,tmpfs-size=big", err: true},
		{spec: "target=/x,readonly=maybe", err: true},
		{spec: `target="/x`, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := parseMount(tc.spec)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseVolume(t *testing.T) {
	cases := []struct {
		spec string
		want oneshot.Mount
		err  bool
	}{
		{spec: "data:/data", want: oneshot.Mount{Type: oneshot.MountVolume, Source: "data", Target: "/data"}},
		{spec: "data:/data:ro", want: oneshot.Mount{Type: oneshot.MountVolume, Source: "data", Target: "/data", ReadOnly: true}},
		{spec: "/srv/in:/in:rw", want: oneshot.Mount{Type: oneshot.MountBind, Source: "/srv/in", Target: "/in"}},
		{spec: "/cache", want: oneshot.Mount{Type: oneshot.MountVolume, Target: "/cache"}},
		{spec: "./in:/in", err: true},
		{spec: "a:/b:rx", err: true},
		{spec: ":/b", err: true},
		{spec: "a:", err: true},
		{spec: "a:/b:ro:x", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := parseVolume(tc.spec)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseTmpfs(t *testing.T) {
	cases := []struct {
		spec string
		want oneshot.Mount
		err  bool
	}{
		{spec: "/scratch", want: oneshot.Mount{Type: oneshot.MountTmpfs, Target: "/scratch"}},
		{spec: "/scratch:size=64m", want: oneshot.Mount{Type: oneshot.MountTmpfs, Target: "/scratch", TmpfsSize: 64 << 20}},
		{spec: "/scratch:ro,size=1k", want: oneshot.Mount{Type: oneshot.MountTmpfs, Target: "/scratch", ReadOnly: true, TmpfsSize: 1024}},
		{spec: "/scratch:exec", err: true},
		{spec: "/scratch:size=lots", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := parseTmpfs(tc.spec)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
