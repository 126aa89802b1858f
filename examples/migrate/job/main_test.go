package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// env is a fake environment for parseFlags.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestFlagDefaultsComeFromTheEnvironment(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseFlags("up", nil, env(map[string]string{"DB_HOST": "db", "DB_PASSWORD_FILE": "/run/secrets/shop-db"}), &stderr)
	require.NoError(t, err, stderr.String())
	assert.Equal(t, config{mode: "up", host: "db", db: "postgres", user: "postgres", passwordFile: "/run/secrets/shop-db",
		dir: "/migrations", connectTimeout: time.Minute}, cfg)
}

func TestFlagsOverrideTheEnvironment(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseFlags("status", []string{"-host", "other", "-password-file", "/pw", "-dir", "/sql"},
		env(map[string]string{"DB_HOST": "db", "DB_PASSWORD_FILE": "/run/secrets/shop-db"}), &stderr)
	require.NoError(t, err, stderr.String())
	assert.Equal(t, "other", cfg.host)
	assert.Equal(t, "/pw", cfg.passwordFile)
	assert.Equal(t, "/sql", cfg.dir)
}

func TestFlagDefaultsWithoutTheEnvironment(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseFlags("serve", []string{"-host", "db"}, env(nil), &stderr)
	require.NoError(t, err, stderr.String())
	assert.Equal(t, config{mode: "serve", host: "db", db: "postgres", user: "postgres", passwordFile: defaultPasswordFile,
		dir: "/migrations", connectTimeout: time.Minute, addr: ":8080"}, cfg)

	cfg, err = parseFlags("up", []string{"-host", "db"}, env(map[string]string{"DB_PASSWORD_FILE": ""}), &stderr)
	require.NoError(t, err)
	assert.Equal(t, defaultPasswordFile, cfg.passwordFile, "an empty DB_PASSWORD_FILE is as unset")
}

func TestRunRefusesBadArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no mode", nil, nil, "usage: migrate-job"},
		{"unknown mode", []string{"down"}, nil, "usage: migrate-job"},
		{"no host", []string{"up"}, nil, "give -host HOST or set DB_HOST"},
		{"empty DB_HOST", []string{"status"}, map[string]string{"DB_HOST": ""}, "give -host HOST or set DB_HOST"},
		{"unknown flag", []string{"up", "-colour", "blue"}, map[string]string{"DB_HOST": "db"}, "flag provided but not defined: -colour"},
		{"an argument", []string{"up", "extra"}, map[string]string{"DB_HOST": "db"}, `unexpected argument "extra"`},
		{"sleep without a duration", []string{"sleep"}, nil, "usage: migrate-job sleep DURATION"},
		{"sleep with a bad duration", []string{"sleep", "soon"}, nil, `"soon" is not a duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, 64, run(tc.args, env(tc.env), &stdout, &stderr))
			assert.Contains(t, stderr.String(), tc.want)
			assert.Empty(t, stdout.String())
		})
	}
}

func TestSleep(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run([]string{"sleep", "10ms"}, env(nil), &stdout, &stderr))
	assert.Equal(t, "sleeping for 10ms\nslept 10ms\n", stdout.String())
	assert.Empty(t, stderr.String())
}

func TestUpReadsThePasswordFileFromTheEnvironment(t *testing.T) {
	// No server is needed to see which file up reads: it reads the
	// password before it connects.
	var stdout, stderr bytes.Buffer
	code := run([]string{"up", "-dir", t.TempDir()}, env(map[string]string{"DB_HOST": "db", "DB_PASSWORD_FILE": "/nonexistent/shop-db-password"}), &stdout, &stderr)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "read the password: open /nonexistent/shop-db-password")
}

func TestHandler(t *testing.T) {
	applied := []appliedMigration{{1, "create_users"}, {2, "add_email"}}
	var fail error
	srv := httptest.NewServer(newHandler(func(context.Context) ([]appliedMigration, error) { return applied, fail }))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(body)
	}

	code, body := get("/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)

	code, body = get("/version")
	assert.Equal(t, http.StatusOK, code)
	var reply versionReply
	require.NoError(t, json.Unmarshal([]byte(body), &reply), body)
	assert.Equal(t, versionReply{Count: 2, Latest: 2, Applied: applied}, reply)

	applied = nil
	_, body = get("/version")
	assert.JSONEq(t, `{"count":0,"latest":0,"applied":[]}`, body)

	fail = errors.New("connect to db: no such host")
	code, body = get("/version")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.JSONEq(t, `{"error":"connect to db: no such host"}`, body)

	code, _ = get("/nothing")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestServeStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, config{host: "db", addr: "127.0.0.1:0"}, &stdout) }()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return once cancelled")
	}
}
