package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

var testStories = storage.StoryOptions{Window: 7 * 24 * time.Hour, Threshold: 0.5, Batch: 1000}

// Syndicated copies in several feeds become one story; an outlet that ends
// every item with the same sign-off does not merge its different stories;
// AMP and tracking variants of a link are one item.
func TestStoriesAcrossFeeds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	wire := "Russia is working with Syrian President Bashar al-Assad to move militia fighters and equipment to Libya, " +
		"officials said on Thursday. The transfers were meant to shore up eastern forces after a run of setbacks " +
		"around Tripoli, where contractors of the Wagner Group fight on their side. Moscow did not comment."
	title := "US says Russia working with Assad to move fighters to Libya"
	signoff := " Subscribe to our channel for more news from the region. Our correspondent reports from Tripoli, Libya." +
		" Copyright 2020 Example Broadcasting, all rights reserved."
	other := []string{
		"Fighting resumed south of the capital on Tuesday as drones struck supply lines near Gharyan.",
		"The central bank said it would unify the exchange rate before the end of the year.",
		"Migrant boats kept setting out from the western coast despite the closure of Italian ports.",
		"Talks on a ceasefire stalled in Geneva after the eastern delegation walked out.",
	}
	var bp []rssItem
	for i, o := range other {
		bp = append(bp, rssItem{fmt.Sprintf("Libya update %d", i), fmt.Sprintf("https://bp.example/libya/%d", i), "", o + signoff})
	}
	feeds := map[string]*feedServer{
		"orig":  newFeedServer(t, rss(rssItem{title, "https://orig.example/world/us-russia-assad", "o1", wire})),
		"copy1": newFeedServer(t, rss(rssItem{"UPDATE 1-" + title, "https://copy1.example/a/123?utm_source=rss", "c1", "WASHINGTON (Wire) - " + wire})),
		"copy2": newFeedServer(t, rss(rssItem{title + " | Copy Two", "https://copy2.example/world/us-russia-assad-libya", "c2", wire})),
		"amp":   newFeedServer(t, rss(rssItem{title, "https://orig.example/world/us-russia-assad/amp", "a1", wire})),
		"bp":    newFeedServer(t, rss(bp...)),
	}
	s := newScheduler(t, pool)
	s.Poller.Stories = testStories
	var specs []storage.FeedSpec
	for _, name := range []string{"orig", "copy1", "copy2", "amp", "bp"} {
		specs = append(specs, storage.FeedSpec{URL: feeds[name].URL, Name: name})
	}
	fs, err := s.Poller.Store.SyncFeeds(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PollAll(ctx, onSchedule(fs, nil)); err != nil {
		t.Fatal(err)
	}
	sts, err := s.Poller.Store.Stories(ctx, storage.MatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var wireStory *storage.Story
	for i, st := range sts {
		if strings.Contains(st.Title, "Russia working with Assad") {
			if wireStory != nil {
				t.Fatalf("the wire story is split: %d and %d", wireStory.ID, st.ID)
			}
			wireStory = &sts[i]
		}
	}
	if wireStory == nil {
		t.Fatal("no wire story")
	}
	// orig and amp are one item (two sightings); copy1 and copy2 are copies.
	if len(wireStory.Items) != 3 || wireStory.OutletsCount != 4 {
		t.Fatalf("wire story: %d items, %d outlets %v; want 3 items from 4 outlets", len(wireStory.Items), wireStory.OutletsCount, wireStory.Outlets)
	}
	if len(sts) != 1+len(other) {
		for _, st := range sts {
			t.Logf("story %d: %s (%d items)", st.ID, st.Title, len(st.Items))
		}
		t.Fatalf("%d stories, want %d: the sign-off merged different stories", len(sts), 1+len(other))
	}
}

// An item whose feed edits its title is updated in place, not stored again.
func TestTitleEditUpdatesInPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	store := storage.New(tx)
	srv := newFeedServer(t, rss(rssItem{"Haftar forces advance", "https://wire.example/haftar", "g1", "Fighting near the capital."}))
	feed := syncFeed(t, store, srv.URL)
	p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: store}
	if rep := poll(t, p, feed.ID); rep.NewMatches != 1 {
		t.Fatalf("first poll = %+v", rep)
	}
	srv.set(rss(rssItem{"UPDATE 1-Haftar forces advance on Tripoli airport", "https://wire.example/haftar", "g1", "Fighting near the capital."}), 200, true)
	if rep := poll(t, p, feed.ID); rep.NewMatches != 0 || rep.Updated != 1 {
		t.Fatalf("edited poll = %+v", rep)
	}
	var n, revisions int
	var title string
	if err := tx.QueryRow(ctx, "SELECT count(*) OVER (), title, revisions FROM items").Scan(&n, &title, &revisions); err != nil {
		t.Fatal(err)
	}
	if n != 1 || revisions != 1 || !strings.HasPrefix(title, "UPDATE 1-") {
		t.Fatalf("items %d, title %q, revisions %d", n, title, revisions)
	}
}
