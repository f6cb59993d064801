package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

func TestSnippetsAndCategoriesAreStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storage.New(storagetest.Tx(t))
	f := newFeed(t, s, "https://a.example/rss")
	it := item("https://x.example/1", "Haftar forces advance", "Haftar")
	it.Categories = []string{"World", "Middle East, Africa"}
	it.Snippets = map[string]string{"Haftar": "⟦Haftar⟧ forces advance"}
	if _, err := s.SavePoll(ctx, okPoll(f, it)); err != nil {
		t.Fatal(err)
	}
	ms, err := s.Matches(ctx, storage.MatchFilter{})
	if err != nil || len(ms) != 1 {
		t.Fatalf("%v %+v", err, ms)
	}
	if ms[0].Snippets["Haftar"] != "⟦Haftar⟧ forces advance" || ms[0].FoundBy != storage.FoundByPoll {
		t.Fatalf("match = %+v", ms[0])
	}
	got, err := s.RetainedItems(ctx, time.Time{}, time.Time{}, true, 0, 10)
	if err != nil || len(got) != 1 || len(got[0].Categories) != 2 || got[0].Categories[1] != "Middle East, Africa" {
		t.Fatalf("stored item = %+v, %v", got, err)
	}
}

// Unmatched items are kept for rematch, a batch per poll, readable row by
// row through the unmatched_items view; rematch stores what a new
// watchlist finds in them and in the stored items, once.
func TestRetentionAndRematch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	s := storage.New(tx)
	f := newFeed(t, s, "https://a.example/rss")
	count := func(table string) int {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	published := time.Date(2020, 5, 4, 10, 0, 0, 0, time.UTC)
	plain := func(link, title string) storage.Item {
		return storage.Item{Link: link, Title: title, Summary: "Port news, \"quoted\" <and> ünïcode.",
			Categories: []string{"World", "Africa, North"}, PublishedAt: &published}
	}
	p := okPoll(f, item("https://x.example/m", "Libya talks", "Libya"))
	p.Unmatched = []storage.Item{plain("https://x.example/u1", "Tripoli port reopens"), plain("https://x.example/u2", "Markets rally")}
	if _, err := s.SavePoll(ctx, p); err != nil {
		t.Fatal(err)
	}
	// A poll with nothing that matched keeps its items too.
	p2 := okPoll(f)
	p2.Unmatched = []storage.Item{plain("https://x.example/u3", "Rain in Tripoli")}
	if _, err := s.SavePoll(ctx, p2); err != nil {
		t.Fatal(err)
	}
	if b, n := count("unmatched_batches"), count("unmatched_items"); b != 2 || n != 3 {
		t.Fatalf("unmatched_batches = %d, unmatched_items = %d; want 2 and 3", b, n)
	}
	var summary string
	var cats []string
	var at time.Time
	if err := tx.QueryRow(ctx, `SELECT summary, categories, published_at FROM unmatched_items
		WHERE feed_id = $1 AND title = 'Markets rally'`, f.ID).Scan(&summary, &cats, &at); err != nil ||
		summary != p.Unmatched[0].Summary || len(cats) != 2 || cats[1] != "Africa, North" || !at.Equal(published) {
		t.Fatalf("kept row = %q %q %v, %v", summary, cats, at, err)
	}

	// A rematch with a new entry "Tripoli": u1 and u3 become matches, and
	// the stored item m gets the new entry too.
	un, st, err := s.CountRetained(ctx, time.Now().Add(-time.Hour))
	if err != nil || un != 3 || st != 1 {
		t.Fatalf("CountRetained = %d %d %v", un, st, err)
	}
	// A page holds whole batches: the first, though it is over the limit.
	kept, err := s.RetainedItems(ctx, time.Now().Add(-time.Hour), time.Time{}, false, 0, 1)
	if err != nil || len(kept) != 2 || kept[0].Title != "Tripoli port reopens" || kept[0].FeedID != f.ID ||
		kept[0].ID != kept[1].ID {
		t.Fatalf("kept = %+v %v", kept, err)
	}
	if want := classify.ItemKey(f.URL, "", "https://x.example/u1", "Tripoli port reopens", kept[0].Summary+"\n"); kept[0].Key != want ||
		kept[0].ContentHash == "" {
		t.Fatalf("kept item key %q, hash %q; want key %q", kept[0].Key, kept[0].ContentHash, want)
	}
	next, err := s.RetainedItems(ctx, time.Now().Add(-time.Hour), time.Time{}, false, kept[0].ID, 10)
	if err != nil || len(next) != 1 || next[0].Title != "Rain in Tripoli" {
		t.Fatalf("next page = %+v %v", next, err)
	}
	if rest, err := s.RetainedItems(ctx, time.Now().Add(-time.Hour), time.Time{}, false, next[0].ID, 10); err != nil || len(rest) != 0 {
		t.Fatalf("last page = %+v %v", rest, err)
	}
	stored, err := s.RetainedItems(ctx, time.Now().Add(-time.Hour), time.Time{}, true, 0, 10)
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored page = %+v %v", stored, err)
	}
	tripoli := item("", "", "Tripoli").Hits
	a, c, b := kept[0], next[0], stored[0]
	a.Watches, a.Hits = []string{"Tripoli"}, tripoli
	c.Watches, c.Hits = []string{"Tripoli"}, tripoli
	b.Watches, b.Hits = []string{"Libya", "Tripoli"}, item("", "", "Libya", "Tripoli").Hits
	newItems, newMatches, err := s.SaveRematch(ctx, []storage.Retained{a, c, b}, storage.StoryOptions{})
	if err != nil || newItems != 2 || newMatches != 3 {
		t.Fatalf("SaveRematch = %d items, %d matches, %v; want 2 and 3", newItems, newMatches, err)
	}
	var byRematch int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM matches WHERE found_by = 'rematch'").Scan(&byRematch); err != nil || byRematch != 3 {
		t.Fatalf("matches found by rematch = %d %v", byRematch, err)
	}
	// Again: nothing new, though the items are still kept.
	if n, m, err := s.SaveRematch(ctx, []storage.Retained{a, c, b}, storage.StoryOptions{}); err != nil || n != 0 || m != 0 {
		t.Fatalf("second rematch added %d items, %d matches, %v", n, m, err)
	}
}

// A kept item edited by its feed is kept once per version; a rematch
// stores the latest.
func TestRematchStoresTheLatestVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storage.New(storagetest.Tx(t))
	f := newFeed(t, s, "https://a.example/rss")
	for _, title := range []string{"Port reopens", "Tripoli port reopens"} {
		p := okPoll(f)
		p.Unmatched = []storage.Item{{GUID: "g1", Title: title}}
		if _, err := s.SavePoll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	kept, err := s.RetainedItems(ctx, time.Time{}, time.Time{}, false, 0, 10)
	if err != nil || len(kept) != 2 || kept[0].Key != kept[1].Key {
		t.Fatalf("kept = %+v, %v", kept, err)
	}
	for i := range kept {
		kept[i].Watches, kept[i].Hits = []string{"Tripoli"}, item("", "", "Tripoli").Hits
	}
	if n, _, err := s.SaveRematch(ctx, kept, storage.StoryOptions{}); err != nil || n != 1 {
		t.Fatalf("SaveRematch = %d, %v; want 1 item", n, err)
	}
	ms, err := s.Matches(ctx, storage.MatchFilter{})
	if err != nil || len(ms) != 1 || ms[0].Title != "Tripoli port reopens" {
		t.Fatalf("matches = %+v, %v", ms, err)
	}
}

func TestDeleteUnmatchedBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	s := storage.New(tx)
	f := newFeed(t, s, "https://a.example/rss")
	p := okPoll(f, item("https://x.example/m", "Libya", "Libya"))
	p.Unmatched = []storage.Item{{Title: "k1"}, {Title: "k2"}}
	if _, err := s.SavePoll(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE unmatched_batches SET first_seen_at = now() - interval '8 days'"); err != nil {
		t.Fatal(err)
	}
	p = okPoll(f)
	p.Unmatched = []storage.Item{{Title: "k3"}}
	if _, err := s.SavePoll(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE items SET first_seen_at = now() - interval '30 days'"); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteUnmatchedBefore(ctx, time.Now().Add(-7*24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("deleted %d, %v; want 2", n, err)
	}
	var items, kept int
	if err := tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM unmatched_items)").Scan(&items, &kept); err != nil ||
		items != 1 || kept != 1 {
		t.Fatalf("items = %d, kept = %d (%v); matches must never be deleted, and the newer kept item stays", items, kept, err)
	}
}

func TestDeletePollsBeforeKeepsMatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	s := storage.New(tx)
	f := newFeed(t, s, "https://a.example/rss")
	old := okPoll(f, item("https://x.example/old", "Libya talks", "Libya"))
	old.StartedAt = time.Now().Add(-100 * 24 * time.Hour)
	if _, err := s.SavePoll(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SavePoll(ctx, okPoll(f)); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeletePollsBefore(ctx, time.Now().Add(-90*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("deleted %d, %v; want 1", n, err)
	}
	var polls, matches int
	if err := tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM polls), (SELECT count(*) FROM matches)").Scan(&polls, &matches); err != nil {
		t.Fatal(err)
	}
	if polls != 1 || matches != 1 {
		t.Fatalf("polls %d, matches %d; want 1 and 1", polls, matches)
	}
}
