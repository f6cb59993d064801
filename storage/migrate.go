package storage

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in order.
func Migrations() []Migration {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded at build time; cannot fail
	}
	var out []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic(fmt.Sprintf("migration file %q is not named NNN_name.sql", e.Name()))
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// LatestVersion is the schema version this binary expects.
func LatestVersion() int {
	m := Migrations()
	return m[len(m)-1].Version
}

// migrationLock is the advisory lock key held while migrating, so that
// several instances started at once apply each migration exactly once.
const migrationLock = 0x77697265 // "wire"

const createVersionTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the migrations the database does not have yet, each in its
// own transaction together with its row in schema_migrations, and returns
// the ones it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return nil, fmt.Errorf("migrate: take lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	}()
	if _, err := conn.Exec(ctx, createVersionTable); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	current, err := schemaVersion(ctx, conn)
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range Migrations() {
		if m.Version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %03d_%s: %w", m.Version, m.Name, err)
		}
		applied = append(applied, m)
	}
	return applied, nil
}

// ErrSchemaOutdated means the database needs `wirewatch migrate`.
var ErrSchemaOutdated = errors.New("database schema is out of date")

// CheckSchema returns nil when the database has exactly the schema this
// binary expects, and an error that says what to do otherwise.
func CheckSchema(ctx context.Context, db DBTX) error {
	current, err := SchemaVersion(ctx, db)
	if err != nil {
		return err
	}
	latest := LatestVersion()
	switch {
	case current == latest:
		return nil
	case current > latest:
		return fmt.Errorf("database schema is at version %d, newer than this wirewatch knows (%d): upgrade wirewatch", current, latest)
	case current == 0:
		return fmt.Errorf("%w: the database has no wirewatch schema yet; run `wirewatch migrate` (or start with --migrate)", ErrSchemaOutdated)
	default:
		return fmt.Errorf("%w: the database is at version %d, this wirewatch needs %d; run `wirewatch migrate` (or start with --migrate)", ErrSchemaOutdated, current, latest)
	}
}

// SchemaVersion returns the highest applied migration, 0 for an empty
// database.
func SchemaVersion(ctx context.Context, db DBTX) (int, error) {
	return schemaVersion(ctx, db)
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func schemaVersion(ctx context.Context, db queryRower) (int, error) {
	// Look before reading: an error for a missing table would abort the
	// caller's transaction.
	var exists bool
	if err := db.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := db.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
