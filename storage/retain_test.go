package storage_test

import (
	"context"
	"testing"
	"time"

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

// Unmatched items are kept for rematch, once; an item that matches later
// moves to items; rematch stores what a new watchlist finds in both.
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

	plain := func(key, title string) storage.Item { return storage.Item{Key: key, Link: key, Title: title} }
	p := okPoll(f, item("https://x.example/m", "Libya talks", "Libya"))
	p.Unmatched = []storage.Item{plain("https://x.example/u1", "Tripoli port reopens"), plain("https://x.example/u2", "Markets rally"),
		plain("https://x.example/m", "Libya talks")} // already a match: not kept
	for range 2 {
		if _, err := s.SavePoll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if n := count("unmatched_items"); n != 2 {
		t.Fatalf("unmatched_items = %d, want 2", n)
	}

	// u2 matches in a later poll (say its text changed): it moves.
	if _, err := s.SavePoll(ctx, okPoll(f, item("https://x.example/u2", "Markets rally on Libya news", "Libya"))); err != nil {
		t.Fatal(err)
	}
	if n := count("unmatched_items"); n != 1 {
		t.Fatalf("unmatched_items after a late match = %d, want 1", n)
	}

	// A rematch with a new entry "Tripoli": u1 becomes a match, and the
	// stored item m gets the new entry too.
	un, st, err := s.CountRetained(ctx, time.Now().Add(-time.Hour))
	if err != nil || un != 1 || st != 2 {
		t.Fatalf("CountRetained = %d %d %v", un, st, err)
	}
	kept, err := s.RetainedItems(ctx, time.Now().Add(-time.Hour), time.Time{}, false, 0, 10)
	if err != nil || len(kept) != 1 || kept[0].Title != "Tripoli port reopens" || kept[0].FeedID != f.ID {
		t.Fatalf("kept = %+v %v", kept, err)
	}
	stored, err := s.RetainedItems(ctx, time.Now().Add(-time.Hour), time.Time{}, true, 0, 1)
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored page = %+v %v", stored, err)
	}
	next, err := s.RetainedItems(ctx, time.Now().Add(-time.Hour), time.Time{}, true, stored[0].ID, 1)
	if err != nil || len(next) != 1 || next[0].ID == stored[0].ID {
		t.Fatalf("next page = %+v %v", next, err)
	}
	a := kept[0]
	a.Watches = []string{"Tripoli"}
	a.Hits = item("", "", "Tripoli").Hits
	b := stored[0]
	b.Watches = []string{"Libya", "Tripoli"}
	b.Hits = item("", "", "Libya", "Tripoli").Hits
	newItems, newMatches, err := s.SaveRematch(ctx, []storage.Retained{a, b})
	if err != nil || newItems != 1 || newMatches != 2 {
		t.Fatalf("SaveRematch = %d items, %d matches, %v; want 1 and 2", newItems, newMatches, err)
	}
	if n := count("unmatched_items"); n != 0 {
		t.Fatalf("unmatched_items after rematch = %d", n)
	}
	var byRematch int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM matches WHERE found_by = 'rematch'").Scan(&byRematch); err != nil || byRematch != 2 {
		t.Fatalf("matches found by rematch = %d %v", byRematch, err)
	}
	// Again: nothing new.
	if _, m, err := s.SaveRematch(ctx, []storage.Retained{b}); err != nil || m != 0 {
		t.Fatalf("second rematch added %d, %v", m, err)
	}
}

func TestDeleteUnmatchedBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	s := storage.New(tx)
	f := newFeed(t, s, "https://a.example/rss")
	p := okPoll(f, item("https://x.example/m", "Libya", "Libya"))
	p.Unmatched = []storage.Item{{Key: "k1"}, {Key: "k2"}}
	if _, err := s.SavePoll(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE unmatched_items SET first_seen_at = now() - interval '8 days' WHERE key = 'k1'"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE items SET first_seen_at = now() - interval '30 days'"); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteUnmatchedBefore(ctx, time.Now().Add(-7*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("deleted %d, %v; want 1", n, err)
	}
	var items int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&items); err != nil || items != 1 {
		t.Fatalf("matches must never be deleted: items = %d", items)
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
