package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// lockID is the advisory lock that keeps two migration runs apart.
const lockID = 7301640425

// migrationError is a migration whose SQL failed; it was rolled back.
type migrationError struct {
	file string
	err  error
}

func (e *migrationError) Error() string {
	var pgErr *pgconn.PgError
	if errors.As(e.err, &pgErr) {
		msg := fmt.Sprintf("migration %s failed: %s (SQLSTATE %s)", e.file, pgErr.Message, pgErr.Code)
		if pgErr.Position > 0 {
			msg += fmt.Sprintf(" at character %d", pgErr.Position)
		}
		return msg + "; it was rolled back"
	}
	return fmt.Sprintf("migration %s failed: %v; it was rolled back", e.file, e.err)
}

func (e *migrationError) Unwrap() error { return e.err }

func migrate(ctx context.Context, cfg config) error {
	files, err := readMigrations(cfg.dir)
	if err != nil {
		return err
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return err
	}
	if cfg.mode == "status" {
		printStatus(files, applied)
		return nil
	}
	return applyPending(ctx, conn, files, applied)
}

// connect retries until the server accepts connections or the connect
// timeout passes (a job may start before its database is ready).
func connect(ctx context.Context, cfg config) (*pgx.Conn, error) {
	password, err := os.ReadFile(cfg.passwordFile)
	if err != nil {
		return nil, fmt.Errorf("read the password: %w", err)
	}
	connCfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s dbname=%s user=%s sslmode=disable connect_timeout=5", cfg.host, cfg.db, cfg.user))
	if err != nil {
		return nil, err
	}
	connCfg.Password = strings.TrimRight(string(password), "\r\n")
	deadline := time.Now().Add(cfg.connectTimeout)
	for {
		conn, err := pgx.ConnectConfig(ctx, connCfg)
		if err == nil {
			return conn, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("connect to %s: %w", cfg.host, err)
		}
		fmt.Printf("waiting for %s to accept connections...\n", cfg.host)
		time.Sleep(time.Second)
	}
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int64]bool, error) {
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	applied := map[int64]bool{}
	for _, v := range versions {
		applied[v] = true
	}
	return applied, nil
}

// applyPending applies each migration not applied yet, in order, each in a
// transaction together with its record.
func applyPending(ctx context.Context, conn *pgx.Conn, files []migration, applied map[int64]bool) error {
	count := 0
	for _, m := range files {
		if applied[m.version] {
			continue
		}
		start := time.Now()
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return &migrationError{file: m.file, err: err}
		}
		fmt.Printf("applied %s (%s)\n", m.file, time.Since(start).Round(time.Millisecond))
		count++
	}
	fmt.Printf("%d migration(s) applied, %d already there\n", count, len(applied))
	return nil
}

func printStatus(files []migration, applied map[int64]bool) {
	for _, m := range files {
		state := "pending"
		if applied[m.version] {
			state = "applied"
		}
		fmt.Printf("%-8s %s\n", state, m.file)
	}
}
