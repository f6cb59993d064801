package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func testMatcher(t testing.TB) *classify.Matcher {
	t.Helper()
	m, err := classify.Compile([]classify.Entry{
		{Name: "Libya", Terms: []string{"Libya", "Libyan"}},
		{Name: "Haftar", Terms: []string{"Haftar"}},
		{Name: "Wagner", Terms: []string{"Wagner Group"}},
		{Name: "Assad", Terms: []string{"Assad"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type rssItem struct{ title, link, guid, desc string }

func rss(items ...rssItem) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Test Wire</title><link>https://wire.example/</link>`)
	for _, it := range items {
		fmt.Fprintf(&b, "<item><title>%s</title><link>%s</link>", it.title, it.link)
		if it.guid != "" {
			fmt.Fprintf(&b, "<guid>%s</guid>", it.guid)
		}
		fmt.Fprintf(&b, "<description>%s</description><pubDate>Thu, 07 May 2020 16:20:00 GMT</pubDate></item>", it.desc)
	}
	b.WriteString("</channel></rss>")
	return b.String()
}

// feedServer serves whatever body is set, with an ETag when asked to.
type feedServer struct {
	mu     sync.Mutex
	body   string
	status int
	etag   bool
	hits   atomic.Int64
	*httptest.Server
}

func newFeedServer(t *testing.T, body string) *feedServer {
	s := &feedServer{body: body, status: 200, etag: true}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, etag := s.body, s.status, s.etag
		s.mu.Unlock()
		tag := fmt.Sprintf(`"%x"`, len(body)+strings.Count(body, "<item>")*1000)
		if etag {
			if r.Header.Get("If-None-Match") == tag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", tag)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *feedServer) set(body string, status int, etag bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status, s.etag = body, status, etag
}

func syncFeed(t *testing.T, store *storage.Store, url string) storage.Feed {
	t.Helper()
	feeds, err := store.SyncFeeds(context.Background(), []storage.FeedSpec{{URL: url}})
	if err != nil {
		t.Fatal(err)
	}
	return feeds[0]
}

// poll re-reads the feed (as the scheduler does) and polls it.
func poll(t *testing.T, p *Poller, id int64) Report {
	t.Helper()
	f, err := p.Store.Feed(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := p.Poll(context.Background(), f, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestPollStoresEachMatchOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	store := storage.New(tx)
	haftar := rssItem{"Haftar forces advance on Tripoli", "https://wire.example/world/haftar-advance", "g1", "Fighting near the capital."}
	markets := rssItem{"Markets rally", "https://wire.example/markets", "g2", "Stocks rose; the ambassador spoke."}
	srv := newFeedServer(t, rss(haftar, markets))
	feed := syncFeed(t, store, srv.URL)
	p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: store}

	rep := poll(t, p, feed.ID)
	if rep.Err != nil || rep.Outcome != storage.OutcomeOK || rep.ItemsSeen != 2 || rep.Matched != 1 || rep.NewMatches != 1 {
		t.Fatalf("first poll = %+v", rep)
	}
	// Unchanged: the server answers 304 to the stored ETag.
	if rep := poll(t, p, feed.ID); rep.Outcome != storage.OutcomeNotModified || rep.HTTPStatus != 304 || rep.NewMatches != 0 {
		t.Fatalf("second poll = %+v", rep)
	}
	// The same story again under a tracking variant of its URL and a new
	// GUID, plus one new matching item; no ETag this time.
	variant := rssItem{"Haftar forces advance on Tripoli", "https://wire.example/world/haftar-advance?utm_source=rss&utm_medium=feed#top", "g1-b", "Fighting near the capital."}
	assad := rssItem{"Assad issues decree", "https://wire.example/world/assad-decree", "g3", "Damascus."}
	srv.set(rss(variant, markets, assad), 200, false)
	if rep := poll(t, p, feed.ID); rep.Outcome != storage.OutcomeOK || rep.Matched != 2 || rep.NewMatches != 1 {
		t.Fatalf("third poll = %+v", rep)
	}
	// Same body without validators: recognised by its hash, not parsed.
	if rep := poll(t, p, feed.ID); rep.Outcome != storage.OutcomeNotModified || rep.HTTPStatus != 200 {
		t.Fatalf("fourth poll = %+v", rep)
	}

	var items, polls int
	if err := tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM polls WHERE feed_id = $1)", feed.ID).Scan(&items, &polls); err != nil {
		t.Fatal(err)
	}
	if items != 2 || polls != 4 {
		t.Fatalf("items = %d, polls = %d; want 2 and 4", items, polls)
	}
	ms, err := store.Matches(ctx, storage.MatchFilter{Watches: []string{"Haftar"}})
	if err != nil || len(ms) != 1 {
		t.Fatalf("matches: %v %+v", err, ms)
	}
	if m := ms[0]; m.Link != haftar.link || m.Hits[0].Field != classify.FieldTitle || m.Hits[0].Term != "Haftar" {
		t.Fatalf("stored match = %+v", m)
	}
}

// Items with neither GUID nor link are told apart by their text; for the
// many feeds that carry only a description, that is title and description.
func TestPollKeysItemsWithoutIdentityOnTheirText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storage.New(storagetest.Tx(t))
	east := rssItem{title: "Haftar’s forces withdraw from key road", desc: "The road east of Sirte was handed over."}
	west := rssItem{title: "Haftar’s forces withdraw from key road", desc: "Units left the coastal road near Zawiya."}
	srv := newFeedServer(t, rss(east, west, east))
	feed := syncFeed(t, tx, srv.URL)
	p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: tx}
	if rep := poll(t, p, feed.ID); rep.Err != nil || rep.Matched != 2 || rep.NewMatches != 2 {
		t.Fatalf("poll = %+v; want two items (the repeated one once)", rep)
	}
	ms, err := tx.Matches(ctx, storage.MatchFilter{})
	if err != nil || len(ms) != 2 {
		t.Fatalf("matches: %v %+v", err, ms)
	}
}

func TestPollRecordsFailures(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		body   string
		status int
		kind   string
	}{
		"server error": {"oops", 500, KindHTTP},
		"garbage":      {"\x00\x01 this is not XML", 200, KindParse},
		"html page":    {"<!DOCTYPE html><html><body>Log in</body></html>", 200, KindParse},
		"truncated":    {rss(rssItem{"Libya talks", "https://wire.example/l", "", ""})[:150], 200, KindParse},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store := storage.New(storagetest.Tx(t))
			srv := newFeedServer(t, rss(rssItem{"Libya talks", "https://wire.example/l", "", ""}))
			feed := syncFeed(t, store, srv.URL)
			p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: store}
			if rep := poll(t, p, feed.ID); rep.Err != nil || rep.NewMatches != 1 {
				t.Fatalf("good poll = %+v", rep)
			}
			good, _ := store.Feed(ctx, feed.ID)

			srv.set(tc.body, tc.status, false)
			for i := 1; i <= 2; i++ {
				rep := poll(t, p, feed.ID)
				if rep.Err == nil || ErrorKind(rep.Err) != tc.kind || rep.Outcome != storage.OutcomeFailed {
					t.Fatalf("failed poll %d = %+v", i, rep)
				}
			}
			got, _ := store.Feed(ctx, feed.ID)
			if got.ConsecutiveFailures != 2 || got.LastErrorKind != tc.kind || got.LastError == "" ||
				got.ETag != good.ETag || got.BodyHash != good.BodyHash {
				t.Fatalf("feed after failures = %+v", got)
			}
			// Retried at its next turn, and recovers.
			srv.set(rss(rssItem{"Libya talks", "https://wire.example/l", "", ""}), 200, true)
			if rep := poll(t, p, feed.ID); rep.Err != nil {
				t.Fatalf("recovery poll = %+v", rep)
			}
			if got, _ := store.Feed(ctx, feed.ID); got.ConsecutiveFailures != 0 {
				t.Fatalf("after recovery = %+v", got)
			}
		})
	}
}

func newScheduler(t *testing.T, pool *pgxpool.Pool) *Scheduler {
	return &Scheduler{
		Poller:      &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: storage.New(pool)},
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Concurrency: 4,
	}
}

// A bad feed never stops the others.
func TestPollAllBadFeedsDoNotStopOthers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	good := newFeedServer(t, rss(rssItem{"Libya talks resume", "https://wire.example/1", "", ""}, rssItem{"Wagner Group seen in Sirte", "https://wire.example/2", "", ""}))
	broken := newFeedServer(t, "")
	broken.set("<rss><channel><item><title>Libya", 200, false)
	failing := newFeedServer(t, "")
	failing.set("down", 503, false)
	s := newScheduler(t, pool)
	feeds, err := s.Poller.Store.SyncFeeds(ctx, []storage.FeedSpec{{URL: broken.URL}, {URL: good.URL}, {URL: failing.URL}, {URL: "http://127.0.0.1:1/refused"}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.PollAll(ctx, onSchedule(feeds, nil))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Feeds != 4 || sum.OK != 1 || sum.Failed != 3 || sum.NewMatches != 2 {
		t.Fatalf("summary = %+v", sum)
	}
	failingFeeds, err := s.Poller.Store.FailingFeeds(ctx)
	if err != nil || len(failingFeeds) != 3 {
		t.Fatalf("failing feeds = %+v, %v", failingFeeds, err)
	}
}

// Stopped mid-poll, the scheduler waits out the grace period, cancels the
// stuck poll (which leaves nothing behind) and returns; the next run stores
// the feed's items once.
func TestRunStopsMidPollWithoutPartialWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	release := make(chan struct{})
	var slowStarted sync.Once
	started := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slowStarted.Do(func() { close(started) })
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, rss(rssItem{"Haftar's forces withdraw", "https://slow.example/1", "", ""}))
	}))
	t.Cleanup(slow.Close)
	quick := newFeedServer(t, rss(rssItem{"Assad meets envoy", "https://quick.example/1", "", ""}))

	s := newScheduler(t, pool)
	feeds, err := s.Poller.Store.SyncFeeds(ctx, []storage.FeedSpec{{URL: slow.URL}, {URL: quick.URL}})
	if err != nil {
		t.Fatal(err)
	}
	every, _ := cron.ParseStandard("@every 1h")
	scheduled := []ScheduledFeed{{Feed: feeds[0], Schedule: every}, {Feed: feeds[1], Schedule: every}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- s.Run(runCtx, scheduled, 200*time.Millisecond) }()

	<-started
	waitFor(t, func() bool { f, _ := s.Poller.Store.Feed(ctx, feeds[1].ID); return f.LastPolledAt != nil })
	stopRun(t, stop, done, 5*time.Second, "Run did not return after the grace period")
	slowFeed, _ := s.Poller.Store.Feed(ctx, feeds[0].ID)
	if slowFeed.LastPolledAt != nil {
		t.Fatalf("the interrupted poll left a record: %+v", slowFeed)
	}
	close(release)
	if _, err := s.PollAll(ctx, scheduled); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PollAll(ctx, scheduled); err != nil {
		t.Fatal(err)
	}
	var items int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&items); err != nil || items != 2 {
		t.Fatalf("items = %d (%v), want 2", items, err)
	}
}

// onSchedule pairs feeds with one schedule (nil: every 15 minutes).
func onSchedule(feeds []storage.Feed, sched cron.Schedule) []ScheduledFeed {
	out := make([]ScheduledFeed, len(feeds))
	for i, f := range feeds {
		out[i] = ScheduledFeed{Feed: f, Schedule: sched}
	}
	return out
}

// stopRun stops a Run and fails with msg unless it returns, without an
// error, within d.
func stopRun(t *testing.T, stop context.CancelFunc, done <-chan error, d time.Duration, msg string) {
	t.Helper()
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		t.Fatal(msg)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A changed feed mostly repeats its items: only the new and the edited ones
// are matched and written again.
func TestPollSkipsItemsUnchangedSinceTheLastPoll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	store := storage.New(tx)
	haftar := rssItem{"Haftar forces advance on Tripoli", "https://wire.example/world/haftar", "g1", "Fighting near the capital."}
	markets := rssItem{"Markets rally", "https://wire.example/markets", "g2", "Stocks rose."}
	weather := rssItem{"Rain tomorrow", "https://wire.example/weather", "g3", "Clouds."}
	srv := newFeedServer(t, rss(haftar, markets, weather))
	feed := syncFeed(t, store, srv.URL)
	p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: store, KeepUnmatched: true}
	if rep := poll(t, p, feed.ID); rep.Matched != 1 || rep.NewMatches != 1 {
		t.Fatalf("first poll = %+v", rep)
	}
	// Forget the kept text: an unchanged item is not written again, so it
	// does not come back.
	if _, err := tx.Exec(ctx, "DELETE FROM unmatched_batches"); err != nil {
		t.Fatal(err)
	}
	edited := haftar
	edited.desc = "Fighting near the capital; the airport is closed."
	sport := rssItem{"Cup final tonight", "https://wire.example/sport", "g4", "Kick-off at eight."}
	srv.set(rss(sport, edited, markets, weather), 200, true)
	rep := poll(t, p, feed.ID)
	if rep.ItemsSeen != 4 || rep.Matched != 1 || rep.NewMatches != 0 || rep.Updated != 1 {
		t.Fatalf("second poll = %+v; want 4 items seen, the edited match updated", rep)
	}
	var kept []string
	rows, _ := tx.Query(ctx, "SELECT title FROM unmatched_items ORDER BY title")
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		kept = append(kept, s)
	}
	if rows.Err() != nil || len(kept) != 1 || kept[0] != sport.title {
		t.Fatalf("kept unmatched after the second poll: %q (%v); want only the new item", kept, rows.Err())
	}
	// A new watchlist looks at every item again.
	m, err := classify.Compile([]classify.Entry{{Name: "Weather", Terms: []string{"rain"}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Matcher = m
	srv.set(rss(sport, edited, markets, weather)+" ", 200, true)
	if rep := poll(t, p, feed.ID); rep.Matched != 1 || rep.NewMatches != 1 {
		t.Fatalf("poll with a new watchlist = %+v; want the weather item matched", rep)
	}
}
