package storage_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

var stories = storage.StoryOptions{Window: 7 * 24 * time.Hour, Threshold: 0.5, Batch: 1000}

const body = `Russia is working with Syrian President Bashar al-Assad to move militia fighters and equipment to
Libya to bolster eastern commander Khalifa Haftar, officials said on Thursday. The transfers were meant to shore up
his forces after a run of setbacks around Tripoli, where contractors of the Wagner Group fight on his side.`

func storyItem(key, title, text string, published time.Time) storage.Item {
	it := item(key, title, "Libya")
	sig, _ := classify.Fingerprint(title, text)
	it.Signature, it.Bands, it.PublishedAt = sig.Bytes(), sig.Bands(), &published
	return it
}

func storyOf(t *testing.T, s *storage.Store, key string) int64 {
	t.Helper()
	sts, err := s.Stories(context.Background(), storage.MatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		for _, it := range st.Items {
			if it.Link == key {
				return st.ID
			}
		}
	}
	t.Fatalf("%s is in no story", key)
	return 0
}

// Copies of one story in several outlets become one story as they are
// stored, whose origin is the copy seen first; other stories, and copies
// too far apart in time, do not join it. Copies stored by polls that end
// at the same time still meet.
func TestStories(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	s := storage.New(pool)
	a, b, c := newFeed(t, s, "https://a.example/rss"), newFeed(t, s, "https://b.example/rss"), newFeed(t, s, "https://c.example/rss")
	d := newFeed(t, s, "https://d.example/rss")
	t0 := time.Date(2020, 5, 7, 16, 0, 0, 0, time.UTC)

	save := func(f storage.Feed, items ...storage.Item) {
		t.Helper()
		if _, err := s.SavePoll(ctx, okPoll(f, items...)); err != nil {
			t.Fatal(err)
		}
	}
	save(a, storyItem("https://a.example/1", "US says Russia working with Assad to move fighters to Libya", body, t0))
	// Two outlets whose polls end together: stored in one transaction.
	var wg sync.WaitGroup
	for _, p := range []storage.Poll{
		okPoll(b, storyItem("https://b.example/1", "UPDATE 1-US says Russia working with Assad to move fighters to Libya", "WASHINGTON (Wire) - "+body, t0.Add(time.Hour))),
		okPoll(d, storyItem("https://d.example/1", "Russia, Assad move fighters to Libya, US says", body+" Moscow denies it.", t0.Add(time.Hour))),
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.SavePoll(ctx, p); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	save(c, storyItem("https://c.example/9", "Libya's oil output falls as blockade bites", "Output fell below 100,000 barrels a day after eastern forces shut export terminals, the oil company said.", t0))
	// A later copy joins through the band index; one published ten days
	// later is a story of its own.
	save(c, storyItem("https://c.example/1", "US says Russia working with Assad to send fighters to Libya | C News", body, t0.Add(2*time.Hour)))
	save(c, storyItem("https://c.example/2", "US says Russia working with Assad to move fighters to Libya", body, t0.Add(10*24*time.Hour)))

	origin := storyOf(t, s, "https://a.example/1")
	for _, k := range []string{"https://b.example/1", "https://d.example/1", "https://c.example/1"} {
		if got := storyOf(t, s, k); got != origin {
			t.Errorf("%s: story %d, want %d", k, got, origin)
		}
	}
	for _, k := range []string{"https://c.example/9", "https://c.example/2"} {
		if got := storyOf(t, s, k); got == origin {
			t.Errorf("%s joined the story", k)
		}
	}
	sts, err := s.Stories(ctx, storage.MatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.ID != origin {
			continue
		}
		if st.Title != "US says Russia working with Assad to move fighters to Libya" || st.OutletsCount != 4 || len(st.Items) != 4 {
			t.Fatalf("story = %+v", st)
		}
	}
	var inView int
	if err := pool.QueryRow(ctx, "SELECT outlets_count FROM new_stories WHERE id = $1", origin).Scan(&inView); err != nil || inView != 4 {
		t.Fatalf("new_stories outlets_count = %d, %v", inView, err)
	}
	// Nothing is left to assign.
	if n, err := s.AssignStories(ctx, stories); err != nil || n != 0 {
		t.Fatalf("AssignStories = %d, %v", n, err)
	}
}

// Items an older version stored without a story are put in theirs by
// AssignStories, with the rules of new items.
func TestAssignStoriesToItemsLeftWithout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	s := storage.New(pool)
	a, b, c := newFeed(t, s, "https://a.example/rss"), newFeed(t, s, "https://b.example/rss"), newFeed(t, s, "https://c.example/rss")
	t0 := time.Date(2020, 5, 7, 16, 0, 0, 0, time.UTC)
	for _, p := range []storage.Poll{
		okPoll(a, storyItem("https://a.example/1", "US says Russia working with Assad to move fighters to Libya", body, t0)),
		okPoll(b, storyItem("https://b.example/1", "UPDATE 1-US says Russia working with Assad to move fighters to Libya", "WASHINGTON (Wire) - "+body, t0.Add(time.Hour))),
		okPoll(c, storyItem("https://c.example/9", "Libya's oil output falls as blockade bites", "Output fell below 100,000 barrels a day after eastern forces shut export terminals.", t0)),
	} {
		if _, err := s.SavePoll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	forgetStories(t, pool, false)
	if n, err := s.AssignStories(ctx, stories); err != nil || n != 3 {
		t.Fatalf("AssignStories = %d, %v", n, err)
	}
	if storyOf(t, s, "https://a.example/1") != storyOf(t, s, "https://b.example/1") ||
		storyOf(t, s, "https://a.example/1") == storyOf(t, s, "https://c.example/9") {
		t.Fatal("stories assigned wrong")
	}
	if n, err := s.AssignStories(ctx, stories); err != nil || n != 0 {
		t.Fatalf("second AssignStories = %d, %v", n, err)
	}
}

// forgetStories makes the stored items look as an older version left them:
// without a story and, with fingerprints set, without a fingerprint.
func forgetStories(t *testing.T, pool *pgxpool.Pool, fingerprints bool) {
	t.Helper()
	sql := "UPDATE items SET story_id = NULL"
	if fingerprints {
		sql += ", signature = NULL, bands = NULL"
	}
	if _, err := pool.Exec(context.Background(), sql+"; DELETE FROM stories"); err != nil {
		t.Fatal(err)
	}
}

// A stored item whose title or text its feed changes is updated in place
// and the change counted; it stays one item.
func TestEditedItemIsUpdatedInPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	s := storage.New(tx)
	f := newFeed(t, s, "https://a.example/rss")
	it := item("https://x.example/1", "Haftar forces advance", "Haftar")
	it.GUID, it.ContentHash = "g1", classify.ContentHash(it.Title, "")
	if _, err := s.SavePoll(ctx, okPoll(f, it)); err != nil {
		t.Fatal(err)
	}
	it.Title = "Haftar forces advance on Tripoli airport"
	it.ContentHash = classify.ContentHash(it.Title, "")
	saved, err := s.SavePoll(ctx, okPoll(f, it))
	if err != nil || saved.NewItems != 0 || saved.UpdatedItems != 1 {
		t.Fatalf("saved = %+v, %v", saved, err)
	}
	var title string
	var revisions, items, updatedPolls int
	err = tx.QueryRow(ctx, `SELECT title, revisions, (SELECT count(*) FROM items),
		(SELECT count(*) FROM polls WHERE items_updated = 1) FROM items`).Scan(&title, &revisions, &items, &updatedPolls)
	if err != nil || title != it.Title || revisions != 1 || items != 1 || updatedPolls != 1 {
		t.Fatalf("title %q revisions %d items %d polls with an update %d, %v", title, revisions, items, updatedPolls, err)
	}
	// Unchanged: nothing updated.
	if saved, _ := s.SavePoll(ctx, okPoll(f, it)); saved.UpdatedItems != 0 {
		t.Fatalf("unchanged item updated: %+v", saved)
	}
}

// Items stored before stories existed have no fingerprint: they get one
// from their stored text when they are assigned.
func TestStoriesBackfillFingerprints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	s := storage.New(pool)
	a, b := newFeed(t, s, "https://a.example/rss"), newFeed(t, s, "https://b.example/rss")
	old := func(key, title string) storage.Item {
		it := item(key, title, "Libya")
		it.Content = body
		return it
	}
	if _, err := s.SavePoll(ctx, okPoll(a, old("https://a.example/1", "US says Russia working with Assad"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SavePoll(ctx, okPoll(b, old("https://b.example/1", "UPDATE 1-US says Russia working with Assad"))); err != nil {
		t.Fatal(err)
	}
	forgetStories(t, pool, true)
	if _, err := s.AssignStories(ctx, stories); err != nil {
		t.Fatal(err)
	}
	if storyOf(t, s, "https://a.example/1") != storyOf(t, s, "https://b.example/1") {
		t.Fatal("the two copies are in different stories")
	}
	var missing int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM items WHERE signature IS NULL OR bands IS NULL").Scan(&missing); err != nil || missing != 0 {
		t.Fatalf("%d items without a fingerprint, %v", missing, err)
	}
}
