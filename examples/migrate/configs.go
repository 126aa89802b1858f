package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// maxConfigSize is the swarm's limit for one config.
const maxConfigSize = 500 << 10

// sqlFile is one migration file to hand to the job.
type sqlFile struct {
	file string
	data []byte
}

// sqlConfig is the swarm config made for one file.
type sqlConfig struct {
	id, name, file string
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
			return nil, fmt.Errorf("%s is larger than a swarm config may be (500 KiB); split it", p)
		}
		out = append(out, sqlFile{file: filepath.Base(p), data: data})
	}
	return out, nil
}

// createConfigs makes one swarm config per file, named after the run and
// the file's content, and returns those it made (also on error, so that
// they are removed).
func createConfigs(ctx context.Context, docker *client.Client, files []sqlFile) ([]sqlConfig, error) {
	run := randomHex(4)
	var made []sqlConfig
	for _, f := range files {
		name := configName(run, f)
		res, err := docker.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
			Annotations: swarm.Annotations{Name: name, Labels: map[string]string{"oneshot-migrate": "true"}}, Data: f.data}})
		if err != nil {
			return made, fmt.Errorf("create the config for %s: %w", f.file, err)
		}
		made = append(made, sqlConfig{id: res.ID, name: name, file: f.file})
	}
	return made, nil
}

// configName names the config of one file for the run: after the file and
// its content, within the swarm's 64 characters.
func configName(run string, f sqlFile) string {
	sum := sha256.Sum256(f.data)
	name := fmt.Sprintf("migrate-%s-%s-%s", run, strings.TrimSuffix(f.file, ".sql"), hex.EncodeToString(sum[:4]))
	if len(name) > 64 {
		name = fmt.Sprintf("migrate-%s-%s", run, hex.EncodeToString(sum[:8]))
	}
	return name
}

// removeConfigs removes the run's configs, retrying while the swarm still
// counts the finished job's task as using them.
func removeConfigs(docker *client.Client, configs []sqlConfig, stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range configs {
		for {
			_, err := docker.ConfigRemove(ctx, c.id, client.ConfigRemoveOptions{})
			if err == nil || cerrdefs.IsNotFound(err) {
				break
			}
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "migrate: could not remove config %s: %v (remove it with `docker config rm %s`)\n", c.name, err, c.name)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
