package main

import (
	"context"
	"fmt"
	"io"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/examples/internal/jobexit"
)

// migrate runs the migration job with the SQL files as configs made for
// the job (oneshot removes them with it, on every path). It returns the
// exit code (see outcome.go).
func migrate(ctx context.Context, cfg config, runner *oneshot.Runner, stdout, stderr io.Writer) int {
	files, err := sqlFiles(cfg.dir)
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return jobexit.NotRun
	}
	res, err := runner.Run(ctx, oneshot.JobSpec{Image: cfg.image, Command: jobCommand(cfg)}, jobOptions(cfg, files, stdout, stderr)...)
	o := decide(res, err, context.Cause(ctx))
	for _, line := range o.lines {
		fmt.Fprintln(stderr, line)
	}
	return o.code
}

// jobCommand is the migration job's command line: the mode, the database,
// and where the job finds the password and the SQL files.
func jobCommand(cfg config) []string {
	return []string{cfg.mode, "-host", cfg.dbService, "-db", cfg.dbName, "-user", cfg.dbUser,
		"-password-file", "/run/secrets/db-password", "-dir", "/migrations"}
}

// jobOptions give the job the database's network, the password secret and
// the SQL files as configs, stream its output to migrate's and bound it by
// --timeout.
func jobOptions(cfg config, files []sqlFile, stdout, stderr io.Writer) []oneshot.Option {
	opts := []oneshot.Option{
		oneshot.WithNetwork(cfg.network),
		oneshot.WithSecretRef(oneshot.SecretRef{Name: cfg.passwordSecret, Target: "/run/secrets/db-password", Mode: 0o400}),
		oneshot.WithStdout(stdout), oneshot.WithStderr(stderr),
		oneshot.WithTimeout(cfg.timeout),
		oneshot.WithLabel("oneshot-migrate", cfg.dbService),
	}
	return append(opts, sqlConfigs(files)...)
}
