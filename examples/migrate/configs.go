package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/oneshot-go/oneshot"
)

// maxConfigSize is the swarm's limit for one config.
const maxConfigSize = oneshot.MaxConfigDataSize

// sqlFile is one migration file to hand to the job.
type sqlFile struct {
	file string
	data []byte
}

func sqlFiles(dir string) ([]sqlFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no .sql file in %s", dir)
	}
	sort.Strings(paths)
	var out []sqlFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if len(data) > maxConfigSize {
			return nil, fmt.Errorf("%s is larger than a swarm config may be (1000 KiB); split it", p)
		}
		out = append(out, sqlFile{file: filepath.Base(p), data: data})
	}
	return out, nil
}

// configNamePattern is what oneshot takes as the name of a config made for
// a job.
var configNamePattern = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9-_.]{0,38}[a-zA-Z0-9])?$`)

// configName names the config made for the i-th file: the file's name when
// a config may have it, else sql-I.
func configName(i int, f sqlFile) string {
	if configNamePattern.MatchString(f.file) {
		return f.file
	}
	return fmt.Sprintf("sql-%d", i)
}

// sqlConfigs gives the job each file as /migrations/FILE, a config made
// for the job alone: oneshot creates them just before the job's service
// and removes them with it, on every path.
func sqlConfigs(files []sqlFile) []oneshot.Option {
	var opts []oneshot.Option
	for i, f := range files {
		opts = append(opts, oneshot.WithConfigData(configName(i, f), "/migrations/"+f.file, f.data))
	}
	return opts
}
