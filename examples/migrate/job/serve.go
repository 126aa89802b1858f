package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// appliedMigration is one row of schema_migrations.
type appliedMigration struct {
	Version int64  `json:"version"`
	Name    string `json:"name"`
}

// versionReply is what /version answers.
type versionReply struct {
	// Count is the number of migrations applied, Latest the highest
	// version (0 when none is).
	Count   int                `json:"count"`
	Latest  int64              `json:"latest"`
	Applied []appliedMigration `json:"applied"`
}

// serve answers HTTP on cfg.addr until ctx is done, then shuts down
// gracefully.
func serve(ctx context.Context, cfg config, stdout io.Writer) error {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(func(ctx context.Context) ([]appliedMigration, error) { return readApplied(ctx, cfg) }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(stdout, "serving on %s (/healthz, /version), database %s\n", ln.Addr(), cfg.host)
	shutdownErr := make(chan error, 1)
	go func() {
		<-ctx.Done()
		stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdownErr <- srv.Shutdown(stop)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	err = <-shutdownErr
	fmt.Fprintln(stdout, "stopped")
	return err
}

// newHandler serves /healthz and /version, the latter from applied.
func newHandler(applied func(context.Context) ([]appliedMigration, error)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		list, err := applied(ctx)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		reply := versionReply{Count: len(list), Applied: list}
		if reply.Applied == nil {
			reply.Applied = []appliedMigration{}
		}
		for _, m := range list {
			reply.Latest = max(reply.Latest, m.Version)
		}
		_ = json.NewEncoder(w).Encode(reply)
	})
	return mux
}

// readApplied lists the applied migrations, in order; none when
// schema_migrations does not exist yet. It tries to connect once.
func readApplied(ctx context.Context, cfg config) ([]appliedMigration, error) {
	cfg.connectTimeout = -1 // one attempt: a request does not wait for the server
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, noTableIsEmpty(err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[appliedMigration])
	if err != nil {
		return nil, noTableIsEmpty(err)
	}
	return list, nil
}

// noTableIsEmpty turns "schema_migrations does not exist" into no error:
// nothing was applied yet.
func noTableIsEmpty(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return nil
	}
	return fmt.Errorf("read schema_migrations: %w", err)
}
