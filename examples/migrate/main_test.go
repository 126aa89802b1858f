package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oneshot-go/oneshot"
)

func TestParseFlags(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseFlags([]string{"up", "--network", "backend", "--db-service", "db", "--password-secret", "pw",
		"--dir", "./m", "--timeout", "2m"}, &stderr)
	require.NoError(t, err, stderr.String())
	assert.Equal(t, config{mode: "up", network: "backend", dbService: "db", passwordSecret: "pw", dir: "./m",
		dbName: "postgres", dbUser: "postgres", image: "oneshot-migrate-job:dev", timeout: 2 * time.Minute}, cfg)
}

func TestParseFlagsRefuses(t *testing.T) {
	required := []string{"--network", "n", "--db-service", "db", "--password-secret", "pw"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no mode", nil, "up or status"},
		{"unknown mode", append([]string{"down"}, required...), "up or status"},
		{"no network", []string{"status", "--db-service", "db", "--password-secret", "pw"}, "--network is required"},
		{"no db service", []string{"up", "--network", "n", "--password-secret", "pw"}, "--db-service is required"},
		{"no secret", []string{"up", "--network", "n", "--db-service", "db"}, "--password-secret is required"},
		{"unknown flag", append([]string{"up", "--colour", "blue"}, required...), "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, err := parseFlags(tc.args, &stderr)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"up", "-h"}, &stderr)
	assert.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, stderr.String(), "Example:")
}

func TestSQLFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"0002_b.sql": "B", "0001_a.sql": "A", "notes.txt": "x"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	files, err := sqlFiles(dir)
	require.NoError(t, err)
	assert.Equal(t, []sqlFile{{file: "0001_a.sql", data: []byte("A")}, {file: "0002_b.sql", data: []byte("B")}}, files)
}

func TestSQLFilesRefuses(t *testing.T) {
	empty := t.TempDir()
	_, err := sqlFiles(empty)
	assert.ErrorContains(t, err, "no .sql file in "+empty)

	big := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(big, "0001_big.sql"), []byte(strings.Repeat("-", maxConfigSize+1)), 0o644))
	_, err = sqlFiles(big)
	assert.ErrorContains(t, err, "larger than a swarm config may be")
}

func TestConfigName(t *testing.T) {
	short := sqlFile{file: "0001_create_users.sql", data: []byte("CREATE TABLE users ();")}
	assert.Equal(t, "0001_create_users.sql", configName(0, short))
	long := sqlFile{file: "0002_" + strings.Repeat("x", 80) + ".sql", data: []byte("SELECT 1;")}
	assert.Equal(t, "sql-1", configName(1, long))
	odd := sqlFile{file: "0003 add email.sql", data: []byte("SELECT 1;")}
	assert.Equal(t, "sql-2", configName(2, odd))
}

func TestTheSQLFilesAreConfigsMadeForTheJob(t *testing.T) {
	files := []sqlFile{{file: "0001_a.sql", data: []byte("A")}, {file: "0002 b.sql", data: []byte("B")}}
	spec := oneshot.JobSpec{Image: "oneshot-migrate-job:dev"}
	for _, opt := range jobOptions(config{network: "n", passwordSecret: "pw", dbService: "db"}, files, nil, nil) {
		require.NoError(t, opt(&spec))
	}
	require.NoError(t, spec.Validate())
	require.Len(t, spec.ConfigData, 2)
	assert.Equal(t, "0001_a.sql", spec.ConfigData[0].Name)
	assert.Equal(t, "/migrations/0001_a.sql", spec.ConfigData[0].Target)
	assert.Equal(t, "A", string(spec.ConfigData[0].Data.Bytes()))
	assert.Equal(t, "sql-1", spec.ConfigData[1].Name)
	assert.Equal(t, "/migrations/0002 b.sql", spec.ConfigData[1].Target)
	assert.Empty(t, spec.Configs, "no config of its own to make and remove")
}
