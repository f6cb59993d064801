package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

func TestFeedsHealthAndSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storage.New(storagetest.Tx(t))
	fs := feedsOf(t, s, "https://good.example/rss", "https://bad.example/rss", "https://gone.example/rss")
	good, bad, gone := fs[0], fs[1], fs[2]

	next := time.Now().Add(15 * time.Minute).Truncate(time.Second)
	p := okPoll(good, item("https://x.example/1", "Haftar forces advance", "Haftar"))
	p.NextPollAt, p.Interval, p.FetchURL, p.RedirectedTo = next, 15*time.Minute, "https://good.example/new-rss", "https://good.example/new-rss"
	if _, err := s.SavePoll(ctx, p); err != nil {
		t.Fatal(err)
	}
	retry := time.Now().Add(2 * time.Minute).Truncate(time.Second)
	for range 2 {
		if _, err := s.SavePoll(ctx, storage.Poll{FeedID: bad.ID, StartedAt: time.Now(), Outcome: storage.OutcomeFailed,
			HTTPStatus: 429, ErrorKind: "http", Error: "HTTP 429 Too Many Requests", NotBefore: &retry, NextPollAt: retry}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SavePoll(ctx, storage.Poll{FeedID: gone.ID, StartedAt: time.Now(), Outcome: storage.OutcomeFailed,
		HTTPStatus: 410, ErrorKind: "gone", Error: "HTTP 410 Gone", Gone: true, NextPollAt: time.Now().Add(7 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	all, err := s.FeedsHealth(ctx, false)
	if err != nil || len(all) != 3 {
		t.Fatalf("health = %+v, %v", all, err)
	}
	byURL := map[string]storage.FeedHealth{}
	for _, h := range all {
		byURL[h.URL] = h
	}
	g := byURL[good.URL]
	if g.LastOutcome != "ok" || g.NextPollAt == nil || !g.NextPollAt.Equal(next) || g.IntervalSeconds != 900 ||
		g.MovedTo != "https://good.example/new-rss" || g.Items7d != 1 || g.NewMatches7d != 1 || g.Polls7d != 1 {
		t.Fatalf("good feed = %+v", g)
	}
	b := byURL[bad.URL]
	if b.ConsecutiveFailures != 2 || b.LastErrorKind != "http" || b.LastErrorAt == nil || b.NotBefore == nil ||
		!b.NotBefore.Equal(retry) || b.Failed7d != 2 {
		t.Fatalf("bad feed = %+v", b)
	}
	if all[0].URL != bad.URL {
		t.Fatalf("the longest failing feed is not first: %+v", all[0])
	}
	if h := byURL[gone.URL]; h.GoneAt == nil {
		t.Fatalf("gone feed = %+v", h)
	}
	failing, err := s.FeedsHealth(ctx, true)
	if err != nil || len(failing) != 2 {
		t.Fatalf("failing = %+v, %v", failing, err)
	}

	// The feed moved: the next poll fetches the new URL; the configured one
	// stays its identity.
	f, err := s.Feed(ctx, good.ID)
	if err != nil || f.PollURL() != "https://good.example/new-rss" || f.URL != good.URL {
		t.Fatalf("moved feed = %+v, %v", f, err)
	}
}

func TestClaimsRespectRetryAfterAndGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storage.New(storagetest.Tx(t))
	fs := feedsOf(t, s, "https://waiting.example/rss", "https://gone.example/rss", "https://due.example/rss", "https://later.example/rss")
	waiting, gone, due, later := fs[0], fs[1], fs[2], fs[3]
	now := time.Now()
	retry := now.Add(time.Hour)
	save := func(p storage.Poll) {
		t.Helper()
		p.StartedAt = now
		if _, err := s.SavePoll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	save(storage.Poll{FeedID: waiting.ID, Outcome: storage.OutcomeFailed, NotBefore: &retry, NextPollAt: now.Add(-time.Minute)})
	save(storage.Poll{FeedID: gone.ID, Outcome: storage.OutcomeFailed, Gone: true, NextPollAt: now.Add(7 * 24 * time.Hour)})
	save(storage.Poll{FeedID: due.ID, Outcome: storage.OutcomeOK, NextPollAt: now.Add(-time.Second)})
	save(storage.Poll{FeedID: later.ID, Outcome: storage.OutcomeOK, NextPollAt: now.Add(time.Hour)})

	claimed, err := s.ClaimDue(ctx, "me", nil, 10, now, time.Minute)
	if err != nil || len(claimed) != 1 || claimed[0].ID != due.ID {
		t.Fatalf("claimed %+v, %v; want only the due feed", claimed, err)
	}
	for _, tc := range []struct {
		feed storage.Feed
		want string
	}{{waiting, storage.RefusedRetry}, {gone, storage.RefusedGone}, {due, storage.RefusedClaimed}, {later, ""}} {
		_, refused, err := claimOne(t, s, "other", tc.feed.ID, now, time.Minute)
		if err != nil || refused != tc.want {
			t.Errorf("one-off claim of %s: refused %q, %v; want %q", tc.feed.URL, refused, err, tc.want)
		}
	}
	// Released without a poll, the feed is free again.
	if err := s.ReleaseLeases(ctx, "me", nil); err != nil {
		t.Fatal(err)
	}
	if _, refused, err := claimOne(t, s, "other", due.ID, now, time.Minute); err != nil || refused != "" {
		t.Fatalf("claim after release: refused %q, %v", refused, err)
	}
}

// feedsOf configures feeds at these URLs (and only these).
func feedsOf(t *testing.T, s *storage.Store, urls ...string) []storage.Feed {
	t.Helper()
	specs := make([]storage.FeedSpec, len(urls))
	for i, u := range urls {
		specs[i] = storage.FeedSpec{URL: u}
	}
	feeds, err := s.SyncFeeds(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	return feeds
}

// claimOne claims one feed out of schedule; refused says why it could not.
func claimOne(t *testing.T, s *storage.Store, owner string, id int64, now time.Time, lease time.Duration) (storage.Feed, string, error) {
	t.Helper()
	feeds, refused, err := s.ClaimMany(context.Background(), owner, []int64{id}, now, lease)
	if err != nil || len(feeds) == 0 {
		return storage.Feed{}, refused[id], err
	}
	return feeds[0], "", nil
}
