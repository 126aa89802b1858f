// Command migrate-job is the job of examples/migrate: it applies numbered
// SQL files to a Postgres database, in order, each in its own transaction
// with its record in schema_migrations, and is idempotent.
//
//	migrate-job up|status [-host HOST] [-dir /migrations] [-db postgres] [-user postgres] [-password-file FILE]
//	migrate-job serve [-addr :8080] [same flags]
//	migrate-job sleep DURATION
//
// The password is read from a file (a swarm secret), never from the
// environment or the command line, and never printed. A failing migration
// is rolled back and its SQL error printed with the file and position; the
// command then exits 1, the schema left at the previous version.
//
// -host defaults to $DB_HOST and -password-file to $DB_PASSWORD_FILE (the
// name of the file, not the password) when they are set, so that a job run
// as a stack's service runs (examples/migrate/stack, `oneshot stack run shop
// app up`) finds its database with the service's own environment.
//
// serve is the long-running "app" of the example stack: an HTTP server on
// -addr with /healthz (always "ok") and /version (the migrations applied,
// read from schema_migrations), until SIGTERM or SIGINT. sleep prints,
// sleeps for DURATION and exits 0: a stand-in for a long task such as a
// backfill; SIGTERM or SIGINT end it early with exit code 143 (130).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

type config struct {
	mode, host, db, user, passwordFile, dir string
	connectTimeout                          time.Duration
	// addr is where serve listens.
	addr string
}

// defaultPasswordFile is where the password is read from when neither
// -password-file nor $DB_PASSWORD_FILE says otherwise.
const defaultPasswordFile = "/run/secrets/db-password"

const usageLine = "usage: migrate-job up|status|serve [-host HOST] [-dir DIR] [flags], or migrate-job sleep DURATION"

// run runs the mode that args name and returns the exit code; getenv
// gives the flags' defaults.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usageLine)
		return 64
	}
	switch args[0] {
	case "up", "status", "serve":
	case "sleep":
		return sleepMode(args[1:], stdout, stderr)
	default:
		fmt.Fprintln(stderr, usageLine)
		return 64
	}
	cfg, err := parseFlags(args[0], args[1:], getenv, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errFlagParse) {
			fmt.Fprintln(stderr, "migrate-job:", err)
		}
		return 64
	}
	if cfg.mode == "serve" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		if err := serve(ctx, cfg, stdout); err != nil {
			fmt.Fprintln(stderr, "migrate-job:", err)
			return 2
		}
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := migrate(ctx, cfg); err != nil {
		var failed *migrationError
		if errors.As(err, &failed) {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stderr, "migrate-job:", err)
		return 2
	}
	return 0
}

// errFlagParse is a flag error that the flag set has already printed.
var errFlagParse = errors.New("bad flags")

// parseFlags parses the flags of mode; the database host and the password
// file default to $DB_HOST and $DB_PASSWORD_FILE when those are set.
func parseFlags(mode string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	cfg := config{mode: mode}
	fs := flag.NewFlagSet("migrate-job "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.host, "host", getenv("DB_HOST"), "the database server (default $DB_HOST)")
	fs.StringVar(&cfg.db, "db", "postgres", "the database")
	fs.StringVar(&cfg.user, "user", "postgres", "the user")
	fs.StringVar(&cfg.passwordFile, "password-file", orDefault(getenv("DB_PASSWORD_FILE"), defaultPasswordFile), "file holding the password (default $DB_PASSWORD_FILE, else "+defaultPasswordFile+")")
	fs.StringVar(&cfg.dir, "dir", "/migrations", "directory of NNNN_name.sql files")
	fs.DurationVar(&cfg.connectTimeout, "connect-timeout", time.Minute, "how long to wait for the server to accept connections")
	if mode == "serve" {
		fs.StringVar(&cfg.addr, "addr", ":8080", "where to serve HTTP")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, errFlagParse
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if cfg.host == "" {
		return cfg, errors.New("no database server: give -host HOST or set DB_HOST")
	}
	return cfg, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// sleepMode sleeps for the duration args[0], or until SIGTERM or SIGINT.
func sleepMode(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: migrate-job sleep DURATION")
		return 64
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d < 0 {
		fmt.Fprintf(stderr, "migrate-job sleep: %q is not a duration such as 30s\n", args[0])
		return 64
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	fmt.Fprintf(stdout, "sleeping for %s\n", d)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		fmt.Fprintf(stdout, "slept %s\n", d)
		return 0
	case sig := <-signals:
		fmt.Fprintf(stderr, "migrate-job: stopped by %s\n", sig)
		return 128 + int(sig.(syscall.Signal))
	}
}
