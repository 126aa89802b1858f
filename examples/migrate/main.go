// Command migrate applies a directory of numbered SQL files to a Postgres
// database that runs as a swarm service, as a oneshot job on the swarm:
//
//	migrate up|status --network NET --db-service NAME --password-secret NAME --dir ./sql
//
// Each SQL file reaches the job as a swarm config made for the job alone
// (oneshot.WithConfigData: created just before the job's service, removed
// with it), the password as a swarm secret (never in the environment or
// the logs). The job's output streams to this command's, and
// migrate exits with the job's exit code: 0 when every migration applied,
// 1 when one failed (it is rolled back and its SQL error printed). It exits
// 125 when the job could not run at all, 124 when --timeout stopped it, 130
// (143) when Ctrl-C (SIGTERM) did.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/moby/moby/client"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

func main() {
	// The first Ctrl-C (SIGTERM) stops the job and removes its service;
	// migrate then exits 130 (143). A second one ends migrate at once.
	ctx, stop := jobexit.InterruptContext()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	mode, network, dbService, passwordSecret, dir, dbName, dbUser, image string
	timeout                                                              time.Duration
}

const usage = `Usage: migrate up|status [flags]

Applies (up) or lists (status) the numbered SQL files of --dir (0001_name.sql,
0002_name.sql...) on a Postgres swarm service, as a oneshot job on the swarm.

Example:
  migrate up --network backend --db-service db --password-secret db-password --dir ./sql

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return 125
	}
	docker, err := client.New(client.FromEnv)
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return 125
	}
	defer docker.Close()
	runner, err := oneshot.NewRunner(oneshot.WithClient(docker))
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return 125
	}
	defer runner.Close()
	return migrate(ctx, cfg, runner, stdout, stderr)
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	if len(args) == 0 || (args[0] != "up" && args[0] != "status") {
		fmt.Fprint(stderr, usage)
		return cfg, errors.New("the first argument is up or status")
	}
	cfg.mode = args[0]
	fs := flag.NewFlagSet("migrate "+cfg.mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	fs.StringVar(&cfg.network, "network", "", "the swarm network the database is on")
	fs.StringVar(&cfg.dbService, "db-service", "", "the database's service name (endpoint mode dnsrr)")
	fs.StringVar(&cfg.passwordSecret, "password-secret", "", "the swarm secret holding the password")
	fs.StringVar(&cfg.dir, "dir", "./sql", "directory of NNNN_name.sql files")
	fs.StringVar(&cfg.dbName, "db-name", "postgres", "the database")
	fs.StringVar(&cfg.dbUser, "db-user", "postgres", "the user")
	fs.StringVar(&cfg.image, "image", "oneshot-migrate-job:dev", "the migration job's image")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "time bound of the whole migration")
	if err := fs.Parse(args[1:]); err != nil {
		return cfg, err
	}
	for flag, v := range map[string]string{"--network": cfg.network, "--db-service": cfg.dbService, "--password-secret": cfg.passwordSecret} {
		if v == "" {
			return cfg, fmt.Errorf("%s is required; see migrate %s -h", flag, cfg.mode)
		}
	}
	return cfg, nil
}
