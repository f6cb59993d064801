package storage_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// A feed's own title and site URL come from its last good poll; a feed that
// never had one, or is not stored, is left out.
func TestFeedTitles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storage.New(storagetest.Tx(t))
	feeds, err := s.SyncFeeds(ctx, []storage.FeedSpec{{URL: "https://a.example/rss", Name: "A"}, {URL: "https://b.example/rss"}})
	if err != nil {
		t.Fatal(err)
	}
	good := okPoll(feeds[0])
	good.FeedTitle, good.SiteURL = "A & Co. Wire", "https://a.example/"
	failed := storage.Poll{FeedID: feeds[1].ID, StartedAt: time.Now(), Outcome: storage.OutcomeFailed, ErrorKind: "http",
		Error: "HTTP 404", FeedTitle: "ignored"}
	for _, p := range []storage.Poll{good, failed} {
		if _, err := s.SavePoll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.FeedTitles(ctx, []string{"https://a.example/rss", "https://b.example/rss", "https://unknown.example/rss"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]storage.FeedTitle{"https://a.example/rss": {Title: "A & Co. Wire", SiteURL: "https://a.example/"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FeedTitles = %+v, want %+v", got, want)
	}
}
