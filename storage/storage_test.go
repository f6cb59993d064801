package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestMigrateFromEmpty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := migratedlessSchema(t)

	err := storage.CheckSchema(ctx, pool)
	if !errors.Is(err, storage.ErrSchemaOutdated) || !strings.Contains(err.Error(), "wirewatch migrate") {
		t.Fatalf("CheckSchema on an empty database = %v, want ErrSchemaOutdated telling to run migrate", err)
	}
	applied, err := storage.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(storage.Migrations()) {
		t.Fatalf("applied %d migrations, want %d", len(applied), len(storage.Migrations()))
	}
	if err := storage.CheckSchema(ctx, pool); err != nil {
		t.Fatalf("CheckSchema after migrate: %v", err)
	}
	again, err := storage.Migrate(ctx, pool)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate applied %d, err %v; want none", len(again), err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(applied) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, len(applied))
	}
	// The views a user queries by hand exist and run.
	for _, view := range []string{"new_matches", "feed_health"} {
		if _, err := pool.Exec(ctx, "SELECT * FROM "+view); err != nil {
			t.Errorf("view %s: %v", view, err)
		}
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := migratedlessSchema(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() { _, err := storage.Migrate(ctx, pool); errs <- err }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := storage.CheckSchema(ctx, pool); err != nil {
		t.Fatal(err)
	}
}

func TestSyncFeeds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	s := storage.New(tx)
	feeds, err := s.SyncFeeds(ctx, []storage.FeedSpec{{URL: "https://a.example/rss", Name: "A"}, {URL: "https://b.example/rss"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(feeds) != 2 || feeds[0].Name != "A" || feeds[1].DisplayName() != "https://b.example/rss" {
		t.Fatalf("feeds = %+v", feeds)
	}
	// Renamed, one removed, one added: ids stay, removed feed keeps its row.
	again, err := s.SyncFeeds(ctx, []storage.FeedSpec{{URL: "https://c.example/rss"}, {URL: "https://a.example/rss", Name: "A renamed"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || again[1].ID != feeds[0].ID || again[1].Name != "A renamed" {
		t.Fatalf("after resync = %+v", again)
	}
	var inConfig bool
	if err := tx.QueryRow(ctx, "SELECT in_config FROM feeds WHERE url = 'https://b.example/rss'").Scan(&inConfig); err != nil || inConfig {
		t.Fatalf("removed feed: in_config = %v, %v; want false", inConfig, err)
	}
}

// migratedlessSchema is an empty schema of the test's own.
func migratedlessSchema(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	u := storagetest.Schema(t)
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return u, pool
}

func newFeed(t *testing.T, s *storage.Store, url string) storage.Feed {
	t.Helper()
	feeds, err := s.SyncFeeds(context.Background(), []storage.FeedSpec{{URL: url}})
	if err != nil {
		t.Fatal(err)
	}
	return feeds[0]
}

func item(key, title string, watches ...string) storage.Item {
	it := storage.Item{Key: key, Link: key, Title: title, Watches: watches}
	for _, w := range watches {
		it.Hits = append(it.Hits, classify.Hit{Watch: w, Term: w, Field: "title", Start: 0, End: len(w), Count: 1})
	}
	return it
}

func okPoll(feed storage.Feed, items ...storage.Item) storage.Poll {
	return storage.Poll{
		FeedID: feed.ID, StartedAt: time.Now(), Duration: 120 * time.Millisecond, Outcome: storage.OutcomeOK,
		HTTPStatus: 200, Bytes: 4096, ItemsSeen: 20, ETag: `"v1"`, LastModified: "Mon, 04 May 2020 10:00:00 GMT",
		BodyHash: "h1", FeedTitle: "Feed title", Items: items,
	}
}

func TestSavePollStoresEachItemOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	s := storage.New(tx)
	a := newFeed(t, s, "https://a.example/rss")
	b := newFeed(t, s, "https://b.example/rss")

	first := okPoll(a, item("https://x.example/1", "Haftar forces advance", "Haftar"), item("https://x.example/2", "Libya talks", "Libya"))
	first.Items[1].GUID = "guid-2"
	n, err := s.SavePoll(ctx, first)
	if err != nil || n.NewItems != 2 {
		t.Fatalf("first poll: %d new, %v; want 2", n, err)
	}
	// The next poll sees the same items: nothing new.
	if n, err := s.SavePoll(ctx, first); err != nil || n.NewItems != 0 {
		t.Fatalf("second poll: %d new, %v; want 0", n, err)
	}
	// Another feed carries item 1 under the same key: a sighting, not an item.
	if n, err := s.SavePoll(ctx, okPoll(b, item("https://x.example/1", "Haftar forces advance (copy)", "Haftar"))); err != nil || n.NewItems != 0 {
		t.Fatalf("other feed: %d new, %v; want 0", n, err)
	}
	// Same GUID in the same feed under a new link: the same item.
	moved := item("https://x.example/2-updated", "Libya talks resume", "Libya")
	moved.GUID = "guid-2"
	withGUID := item("https://x.example/3", "Assad decree", "Assad")
	withGUID.GUID = "guid-3"
	if _, err := s.SavePoll(ctx, okPoll(a, withGUID)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SavePoll(ctx, okPoll(a, moved)); err != nil || n.NewItems != 0 {
		t.Fatalf("moved link: %d new, %v; want 0", n, err)
	}

	var items, sightings, matches, hits, polls int
	err = tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM item_sightings),
		(SELECT count(*) FROM matches), (SELECT count(*) FROM match_hits), (SELECT count(*) FROM polls)`).
		Scan(&items, &sightings, &matches, &hits, &polls)
	if err != nil {
		t.Fatal(err)
	}
	if items != 3 || sightings != 4 || matches != 3 || hits != 3 || polls != 5 {
		t.Fatalf("items=%d sightings=%d matches=%d hits=%d polls=%d; want 3 4 3 3 5", items, sightings, matches, hits, polls)
	}
}

func TestSavePollRecordsPollAndFeedState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	s := storage.New(tx)
	f := newFeed(t, s, "https://a.example/rss")

	if _, err := s.SavePoll(ctx, okPoll(f, item("https://x.example/1", "Libya", "Libya"))); err != nil {
		t.Fatal(err)
	}
	failed := storage.Poll{FeedID: f.ID, StartedAt: time.Now(), Duration: time.Second, Outcome: storage.OutcomeFailed,
		HTTPStatus: 500, ErrorKind: "http", Error: "HTTP 500 Internal Server Error"}
	for range 2 {
		if _, err := s.SavePoll(ctx, failed); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Feed(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A failure counts, but keeps the validators of the last good poll.
	if got.ConsecutiveFailures != 2 || got.LastOutcome != "failed" || got.LastErrorKind != "http" ||
		got.ETag != `"v1"` || got.BodyHash != "h1" || got.Title != "Feed title" || got.LastSuccessAt == nil {
		t.Fatalf("feed after failures = %+v", got)
	}
	if _, err := s.SavePoll(ctx, storage.Poll{FeedID: f.ID, StartedAt: time.Now(), Outcome: storage.OutcomeNotModified, HTTPStatus: 304}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Feed(ctx, f.ID)
	if got.ConsecutiveFailures != 0 || got.LastError != "" || got.ETag != `"v1"` {
		t.Fatalf("feed after 304 = %+v", got)
	}

	var outcome, kind string
	var status *int
	var bytes int64
	var seen, newMatches, ms int
	err = tx.QueryRow(ctx, `SELECT outcome, http_status, bytes, items_seen, new_matches, duration_ms, error_kind
		FROM polls WHERE feed_id = $1 ORDER BY id LIMIT 1`, f.ID).Scan(&outcome, &status, &bytes, &seen, &newMatches, &ms, &kind)
	if err != nil {
		t.Fatal(err)
	}
	if outcome != "ok" || status == nil || *status != 200 || bytes != 4096 || seen != 20 || newMatches != 1 || ms != 120 || kind != "" {
		t.Fatalf("poll row = %s %v %d %d %d %d %q", outcome, status, bytes, seen, newMatches, ms, kind)
	}
}

// A failed store leaves nothing behind: not the items, not the feed's new
// validators.
func TestSavePollIsAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	s := storage.New(tx)
	f := newFeed(t, s, "https://a.example/rss")
	bad := okPoll(f, item("https://x.example/1", "Libya", "Libya"))
	bad.Items[0].Hits[0].Watch = "Not a matched watch" // violates the hits -> matches foreign key
	if _, err := s.SavePoll(ctx, bad); err == nil {
		t.Fatal("want an error")
	}
	var items, polls int
	if err := tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM polls)").Scan(&items, &polls); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Feed(ctx, f.ID)
	if items != 0 || polls != 0 || got.ETag != "" || got.LastPolledAt != nil {
		t.Fatalf("after a failed save: items=%d polls=%d feed=%+v", items, polls, got)
	}
}

func TestMatchesFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	s := storage.New(tx)
	f := newFeed(t, s, "https://a.example/rss")
	if _, err := s.SavePoll(ctx, okPoll(f,
		item("https://x.example/1", "Haftar and Libya", "Libya", "Haftar"),
		item("https://x.example/2", "Wagner Group", "Wagner"),
		item("https://x.example/3", "Assad", "Assad"),
	)); err != nil {
		t.Fatal(err)
	}
	// Make item 3 older than the others.
	if _, err := tx.Exec(ctx, "UPDATE items SET first_seen_at = now() - interval '3 days' WHERE key = 'https://x.example/3'"); err != nil {
		t.Fatal(err)
	}
	titles := func(f storage.MatchFilter) []string {
		t.Helper()
		ms, err := s.Matches(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.Title)
		}
		return out
	}
	if got := titles(storage.MatchFilter{}); len(got) != 3 || got[2] != "Assad" {
		t.Fatalf("all = %v", got)
	}
	if got := titles(storage.MatchFilter{Since: time.Now().Add(-24 * time.Hour)}); len(got) != 2 {
		t.Fatalf("since = %v", got)
	}
	if got := titles(storage.MatchFilter{Watches: []string{"haftar", "ASSAD"}}); !reflect.DeepEqual(got, []string{"Haftar and Libya", "Assad"}) {
		t.Fatalf("watch = %v", got)
	}
	if got := titles(storage.MatchFilter{Limit: 1}); len(got) != 1 {
		t.Fatalf("limit = %v", got)
	}

	all, _ := s.Matches(ctx, storage.MatchFilter{Watches: []string{"Libya"}})
	m := all[0]
	if !reflect.DeepEqual(m.Watches, []string{"Haftar", "Libya"}) || len(m.Hits) != 2 || m.FeedURL != "https://a.example/rss" || m.Feed != "Feed title" {
		t.Fatalf("match = %+v", m)
	}
	if n, err := s.MarkReviewed(ctx, []int64{m.ItemID}); err != nil || n != 1 {
		t.Fatalf("MarkReviewed = %d, %v", n, err)
	}
	if n, _ := s.MarkReviewed(ctx, []int64{m.ItemID}); n != 0 {
		t.Fatalf("second MarkReviewed = %d, want 0", n)
	}
	if got := titles(storage.MatchFilter{Unreviewed: true}); len(got) != 2 {
		t.Fatalf("unreviewed = %v", got)
	}
	var inView int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM new_matches").Scan(&inView); err != nil || inView != 2 {
		t.Fatalf("new_matches has %d rows (%v), want 2", inView, err)
	}
}

// Polls that store no item are written together when they end at the same
// time; each is recorded once, with its own feed's state.
func TestConcurrentPollRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	s := storage.New(pool)
	var specs []storage.FeedSpec
	for i := range 200 {
		specs = append(specs, storage.FeedSpec{URL: fmt.Sprintf("https://h%d.example/rss", i)})
	}
	feeds, err := s.SyncFeeds(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(time.Hour).Truncate(time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, len(feeds))
	for i, f := range feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := storage.Poll{FeedID: f.ID, StartedAt: time.Now(), Outcome: storage.OutcomeNotModified, HTTPStatus: 304,
				NextPollAt: next.Add(time.Duration(i) * time.Second)}
			if i%3 == 0 {
				p.Outcome, p.HTTPStatus, p.ErrorKind, p.Error = storage.OutcomeFailed, 503, "http", fmt.Sprintf("HTTP 503 from %d", i)
			}
			if i == 7 {
				p.Outcome = "bogus" // refused by the table's check
			}
			if _, err := s.SavePoll(ctx, p); (err != nil) != (i == 7) {
				errs <- fmt.Errorf("feed %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, f := range feeds {
		if i == 7 {
			continue
		}
		got, err := s.Feed(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantErr := ""
		if i%3 == 0 {
			wantErr = fmt.Sprintf("HTTP 503 from %d", i)
		}
		if got.LastError != wantErr || got.NextPollAt == nil || !got.NextPollAt.Equal(next.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("feed %d: last error %q, next poll %v; want %q, %v", i, got.LastError, got.NextPollAt, wantErr,
				next.Add(time.Duration(i)*time.Second))
		}
	}
	var polls, distinct int
	if err := pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT feed_id) FROM polls").Scan(&polls, &distinct); err != nil {
		t.Fatal(err)
	}
	if polls != len(feeds)-1 || distinct != len(feeds)-1 {
		t.Fatalf("%d poll records for %d feeds, want one each of %d (one refused)", polls, distinct, len(feeds)-1)
	}
}
