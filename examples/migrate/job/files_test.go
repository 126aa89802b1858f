package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadMigrationsSortsByVersion(t *testing.T) {
	dir := t.TempDir()
	for name, sql := range map[string]string{"0010_c.sql": "C", "0002_b.sql": "B", "0001_a.sql": "A", "notes.txt": "x"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644))
	}
	files, err := readMigrations(dir)
	require.NoError(t, err)
	require.Len(t, files, 3)
	assert.Equal(t, []int64{1, 2, 10}, []int64{files[0].version, files[1].version, files[2].version})
	assert.Equal(t, "b", files[1].name)
	assert.Equal(t, "C", files[2].sql)
}

func TestParseMigrationName(t *testing.T) {
	for _, bad := range []string{"init.sql", "x_init.sql", "0_init.sql", "-1_x.sql", "0001.sql"} {
		_, err := parseMigrationName(bad)
		assert.Error(t, err, bad)
	}
	m, err := parseMigrationName("0042_add_email_index.sql")
	require.NoError(t, err)
	assert.Equal(t, int64(42), m.version)
	assert.Equal(t, "add_email_index", m.name)
}

func TestDuplicateVersionsAreRefused(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "0001_a.sql"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "001_b.sql"), nil, 0o644))
	_, err := readMigrations(dir)
	assert.ErrorContains(t, err, "same version")
}
