// Package storage holds every SQL statement wirewatch runs: the embedded
// schema migrations, the per-poll write that stores a feed's items in one
// transaction, and the read models behind `wirewatch matches`.
package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what the store needs from a connection: a pool, a single
// connection or a transaction all qualify, which lets tests run each case in
// a transaction that is rolled back.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store runs wirewatch's queries against a DBTX.
type Store struct {
	db    DBTX
	batch *pollBatch // nil in a transaction
}

// New returns a Store over db.
func New(db DBTX) *Store { return &Store{db: db, batch: newPollBatch()} }

// WithTx runs fn in a transaction (a savepoint when the store is already in
// one) and commits when fn returns nil.
func (s *Store) WithTx(ctx context.Context, fn func(*Store) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Rollback after Commit is a no-op; after a failure it releases the
	// connection with its state undone.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(&Store{db: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Open connects a pool to the database at url (a PostgreSQL URL or key=value
// string; empty means the libpq environment variables) and checks that the
// server answers.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the connection string, password included.
		return nil, errors.New("invalid database URL: check its syntax (postgres://user:password@host:5432/dbname)")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "wirewatch"
	}
	// Every query wirewatch runs is short; on a large table the planner's
	// estimates can still cross jit_above_cost, and compiling a plan then
	// takes a hundred times longer than running it.
	if _, ok := cfg.ConnConfig.RuntimeParams["jit"]; !ok {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	// Statements are prepared; after five runs PostgreSQL may switch to a
	// generic plan, made without the values. Most statements here take
	// arrays (unnest, = ANY) whose length only the values tell; the
	// generic plans guess, and in a measured steady state they made
	// storing a poll's items several times as slow. Every run gets its own
	// plan.
	if _, ok := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database at %s: %w", describe(cfg.ConnConfig), err)
	}
	return pool, nil
}

// describe names a database without its password.
func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("host=%s port=%d user=%s database=%s", c.Host, c.Port, c.User, c.Database)
}
