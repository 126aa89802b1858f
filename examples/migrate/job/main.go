// Command migrate-job is the job of examples/migrate: it applies numbered
// SQL files to a Postgres database, in order, each in its own transaction
// with its record in schema_migrations, and is idempotent.
//
//	migrate-job up|status -host HOST -dir /migrations [-db postgres] [-user postgres] [-password-file /run/secrets/...]
//
// The password is read from a file (a swarm secret), never from the
// environment or the command line, and never printed. A failing migration
// is rolled back and its SQL error printed with the file and position; the
// command then exits 1, the schema left at the previous version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

type config struct {
	mode, host, db, user, passwordFile, dir string
	connectTimeout                          time.Duration
}

func run(args []string) int {
	if len(args) == 0 || (args[0] != "up" && args[0] != "status") {
		fmt.Fprintln(os.Stderr, "usage: migrate-job up|status -host HOST -dir DIR [flags]")
		return 64
	}
	cfg := config{mode: args[0]}
	fs := flag.NewFlagSet("migrate-job "+args[0], flag.ContinueOnError)
	fs.StringVar(&cfg.host, "host", "", "the database server")
	fs.StringVar(&cfg.db, "db", "postgres", "the database")
	fs.StringVar(&cfg.user, "user", "postgres", "the user")
	fs.StringVar(&cfg.passwordFile, "password-file", "/run/secrets/db-password", "file holding the password")
	fs.StringVar(&cfg.dir, "dir", "/migrations", "directory of NNNN_name.sql files")
	fs.DurationVar(&cfg.connectTimeout, "connect-timeout", time.Minute, "how long to wait for the server to accept connections")
	if err := fs.Parse(args[1:]); err != nil {
		return 64
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := migrate(ctx, cfg); err != nil {
		var failed *migrationError
		if errors.As(err, &failed) {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "migrate-job:", err)
		return 2
	}
	return 0
}
