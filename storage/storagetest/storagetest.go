// Package storagetest gives tests a real PostgreSQL database: a transaction
// that is rolled back after the test, or a schema of their own for tests
// that need several connections (a daemon, a CLI run).
//
// It reads DATABASE_URL. `make test` starts a throwaway cluster and sets it;
// without it the tests fail with a message that says so, never skip.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wirewatch/wirewatch/storage"
)

// URL returns DATABASE_URL, or fails the test explaining how to get one.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		t.Fatal("DATABASE_URL is not set: this test needs a real PostgreSQL. " +
			"Run `make test`, which starts a throwaway cluster with the machine's PostgreSQL server binaries, " +
			"or set DATABASE_URL to a database the tests may create schemas in.")
	}
	return u
}

// WithSearchPath returns the connection string dbURL with its connections
// set to use schema.
func WithSearchPath(dbURL, schema string) string {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		u, err := url.Parse(dbURL)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return strings.TrimSpace(dbURL + " search_path=" + schema)
}

// Schema creates an empty schema of the test's own and returns a connection
// string that uses it. The schema is dropped when the test ends.
func Schema(t testing.TB) string {
	t.Helper()
	base := URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	name := "wwtest_" + randomSuffix()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", name, err)
		}
	})
	return WithSearchPath(base, name)
}

// MigratedSchema is Schema with the migrations applied, and a pool on it that
// is closed when the test ends.
func MigratedSchema(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	u := Schema(t)
	pool := open(t, u)
	t.Cleanup(pool.Close)
	if _, err := storage.Migrate(context.Background(), pool); err != nil {
		t.Fatalf("migrate test schema: %v", err)
	}
	return u, pool
}

func open(t testing.TB, u string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		t.Fatalf("parse DATABASE_URL: %v", err)
	}
	cfg.MaxConns = 32
	cfg.ConnConfig.RuntimeParams["jit"] = "off" // as storage.Open sets it
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect to DATABASE_URL: %v", err)
	}
	return pool
}

// The shared schema for transaction tests is made once per test binary and
// dropped by Main.
var (
	sharedOnce   sync.Once
	sharedPool   *pgxpool.Pool
	sharedErr    string
	sharedSchema = "wwtest_shared_" + randomSuffix()
)

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Main runs the tests of a package that uses Tx and drops the shared schema
// afterwards. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if sharedPool != nil {
		sharedPool.Close()
		if conn, err := pgx.Connect(context.Background(), os.Getenv("DATABASE_URL")); err == nil {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+sharedSchema+" CASCADE")
			conn.Close(context.Background())
		}
	}
	os.Exit(code)
}

// Tx returns a transaction on a migrated schema shared by the tests of this
// binary, rolled back when the test ends, so tests can run in parallel and
// leave nothing behind.
func Tx(t testing.TB) pgx.Tx {
	t.Helper()
	base := URL(t)
	sharedOnce.Do(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			sharedErr = "connect to DATABASE_URL: " + err.Error()
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+sharedSchema); err != nil {
			sharedErr = "create test schema: " + err.Error()
			return
		}
		sharedPool = open(t, WithSearchPath(base, sharedSchema))
		if _, err := storage.Migrate(ctx, sharedPool); err != nil {
			sharedErr = "migrate test schema: " + err.Error()
		}
	})
	if sharedErr != "" {
		t.Fatal(sharedErr)
	}
	tx, err := sharedPool.Begin(context.Background())
	if err != nil {
		t.Fatalf("begin test transaction: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}
