package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/client"

	"github.com/oneshot-go/oneshot"
)

// migrate runs the migration job with the SQL files as configs, and removes
// the configs on every path.
func migrate(ctx context.Context, cfg config, docker *client.Client, runner *oneshot.Runner, stdout, stderr io.Writer) int {
	files, err := sqlFiles(cfg.dir)
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return 125
	}
	configs, err := createConfigs(ctx, docker, files)
	defer removeConfigs(docker, configs, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return 125
	}
	opts := []oneshot.Option{
		oneshot.WithNetwork(cfg.network),
		oneshot.WithSecretRef(oneshot.SecretRef{Name: cfg.passwordSecret, Target: "/run/secrets/db-password", Mode: 0o400}),
		oneshot.WithStdout(stdout), oneshot.WithStderr(stderr),
		oneshot.WithTimeout(cfg.timeout),
		oneshot.WithLabel("oneshot-migrate", cfg.dbService),
	}
	for _, c := range configs {
		opts = append(opts, oneshot.WithConfigRef(oneshot.ConfigRef{Name: c.name, Target: "/migrations/" + c.file}))
	}
	_, err = runner.Run(ctx, oneshot.JobSpec{Image: cfg.image, Command: []string{cfg.mode,
		"-host", cfg.dbService, "-db", cfg.dbName, "-user", cfg.dbUser,
		"-password-file", "/run/secrets/db-password", "-dir", "/migrations"}}, opts...)
	var exitErr *oneshot.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return exitErr.ExitCode()
	}
	fmt.Fprintln(stderr, err)
	return 125
}
