package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// Each migration has a number of its own: two files with one number would
// apply only one of them on databases that have the other.
func TestMigrationNumbersAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[int]string{}
	for _, m := range storage.Migrations() {
		if other, dup := seen[m.Version]; dup {
			t.Errorf("migrations %03d_%s and %03d_%s share a number", m.Version, other, m.Version, m.Name)
		}
		seen[m.Version] = m.Name
	}
}

// Migration 011 moves the unmatched items kept one row each into batches,
// one per poll, and they read back the same through the unmatched_items
// view and rematch.
func TestMigrationKeepsUnmatchedItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, storagetest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// The schema as version 10 left it, with two polls' kept items.
	if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range storage.Migrations() {
		if m.Version > 10 {
			break
		}
		if _, err := pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("migration %d: %v", m.Version, err)
		}
		if _, err := pool.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO feeds (url) VALUES ('https://a.example/rss');
		INSERT INTO unmatched_items (key, feed_id, guid, link, title, summary, content, categories, published_at, first_seen_at)
		VALUES ('https://x.example/1', 1, '', 'https://x.example/1', 'Port reopens', 'The "port" reopened.', '',
		        '{World,"Africa, North"}', '2020-05-04 10:00:00+00', '2020-05-04 11:00:00+00'),
		       ('https://x.example/2', 1, 'g2', 'https://x.example/2', 'Markets rally', '', 'Stocks rose.', '{}', NULL,
		        '2020-05-04 11:00:00+00'),
		       ('https://x.example/3', 1, '', 'https://x.example/3', 'Rain', '', '', '{}', NULL, '2020-05-04 11:15:00+00')`); err != nil {
		t.Fatal(err)
	}
	applied, err := storage.Migrate(ctx, pool)
	if err != nil || len(applied) == 0 || applied[0].Version != 11 {
		t.Fatalf("migrate: %v (applied %v)", err, applied)
	}
	var batches, kept int
	if err := pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM unmatched_batches), (SELECT sum(item_count) FROM unmatched_batches)").
		Scan(&batches, &kept); err != nil || batches != 2 || kept != 3 {
		t.Fatalf("batches %d, items %d (%v); want 2 and 3", batches, kept, err)
	}
	s := storage.New(pool)
	got, err := s.RetainedItems(ctx, time.Time{}, time.Time{}, false, 0, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("kept items = %+v, %v", got, err)
	}
	first := got[0]
	if first.Key != "https://x.example/1" || first.Summary != `The "port" reopened.` || len(first.Categories) != 2 ||
		first.PublishedAt == nil || !first.PublishedAt.Equal(time.Date(2020, 5, 4, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("first kept item = %+v", first)
	}
	if got[1].GUID != "g2" || got[1].Content != "Stocks rose." || got[1].PublishedAt != nil || got[2].Title != "Rain" {
		t.Fatalf("kept items = %+v", got)
	}
	var items7d int
	if err := pool.QueryRow(ctx, "SELECT items_7d FROM feed_health").Scan(&items7d); err != nil {
		t.Fatal(err)
	}
}
