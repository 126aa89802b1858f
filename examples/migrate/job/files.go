package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// migration is one numbered SQL file, e.g. 0002_add_email.sql.
type migration struct {
	version    int64
	name, file string
	sql        string
}

// readMigrations reads dir's NNNN_name.sql files, sorted by version.
func readMigrations(dir string) ([]migration, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var out []migration
	seen := map[int64]string{}
	for _, p := range paths {
		m, err := parseMigrationName(filepath.Base(p))
		if err != nil {
			return nil, err
		}
		if other, dup := seen[m.version]; dup {
			return nil, fmt.Errorf("%s and %s have the same version", other, m.file)
		}
		seen[m.version] = m.file
		body, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		m.sql = string(body)
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

func parseMigrationName(file string) (migration, error) {
	number, name, ok := strings.Cut(strings.TrimSuffix(file, ".sql"), "_")
	version, err := strconv.ParseInt(number, 10, 64)
	if !ok || err != nil || version <= 0 {
		return migration{}, fmt.Errorf("%s: want NNNN_name.sql (a positive version number, an underscore, a name)", file)
	}
	return migration{version: version, name: name, file: file}, nil
}
