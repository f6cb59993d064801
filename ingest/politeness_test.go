package ingest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"

	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// handlerServer is a loopback server with a handler of the test's own.
func handlerServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func readFeed(t *testing.T, store *storage.Store, id int64) storage.Feed {
	t.Helper()
	f, err := store.Feed(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func within(t *testing.T, what string, got, want time.Time, slack time.Duration) {
	t.Helper()
	if d := got.Sub(want); d < -slack || d > slack {
		t.Fatalf("%s = %s, want %s (±%s)", what, got.Format(time.RFC3339), want.Format(time.RFC3339), slack)
	}
}

func TestPollHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	date := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	tests := map[string]struct {
		status int
		header string
		want   func() time.Time
	}{
		"429 with seconds":         {429, "120", func() time.Time { return time.Now().Add(2 * time.Minute) }},
		"503 with an HTTP date":    {503, date.Format(http.TimeFormat), func() time.Time { return date }},
		"429 asking for ten years": {429, strconv.Itoa(10 * 365 * 24 * 3600), func() time.Time { return time.Now().Add(24 * time.Hour) }}, // capped by max_backoff
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store := storage.New(storagetest.Tx(t))
			var hits atomic.Int64
			srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Retry-After", tc.header)
				w.WriteHeader(tc.status)
			})
			feed := syncFeed(t, store, srv.URL)
			p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: store, Policy: Policy{MaxBackoff: 24 * time.Hour}}
			rep := poll(t, p, feed.ID)
			if rep.Err == nil || rep.NotBefore == nil {
				t.Fatalf("report = %+v", rep)
			}
			got := readFeed(t, store, feed.ID)
			within(t, "not_before", *got.NotBefore, tc.want(), 5*time.Second)
			if got.NextPollAt.Before(*got.NotBefore) {
				t.Fatalf("next poll %s before not_before %s", got.NextPollAt, got.NotBefore)
			}

			// A one-off poll pass does not ask before then either.
			s := &Scheduler{Poller: p, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Concurrency: 2}
			sum, err := s.PollAll(ctx, onSchedule([]storage.Feed{feed}, nil))
			if err != nil || sum.Skipped != 1 || hits.Load() != 1 {
				t.Fatalf("poll pass = %+v, %v; server hit %d times", sum, err, hits.Load())
			}
		})
	}
}

func TestPollBacksOffExponentiallyAndNeverGivesUp(t *testing.T) {
	t.Parallel()
	store := storage.New(storagetest.Tx(t))
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) })
	feed := syncFeed(t, store, srv.URL)
	p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: store, Policy: Policy{MaxBackoff: 4 * time.Hour}}
	every, _ := cron.ParseStandard("@every 15m")
	var waits []time.Duration
	for range 8 {
		f := readFeed(t, store, feed.ID)
		before := time.Now()
		if _, err := p.Poll(context.Background(), f, every, nil); err != nil {
			t.Fatal(err)
		}
		waits = append(waits, readFeed(t, store, feed.ID).NextPollAt.Sub(before))
	}
	// 15m, 30m, 1h, 2h, 4h, then the 4h cap, each ±10% jitter.
	want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour}
	for i, w := range waits {
		if lo, hi := w.Seconds()/want[i].Seconds(), 1.11; lo < 0.89 || lo > hi {
			t.Fatalf("wait after failure %d = %s, want about %s (all: %v)", i+1, w, want[i], waits)
		}
	}
	got := readFeed(t, store, feed.ID)
	if got.ConsecutiveFailures != 8 || got.GoneAt != nil || got.NextPollAt == nil {
		t.Fatalf("feed after 8 failures = %+v", got)
	}
}

func TestPollGoneFeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storage.New(storagetest.Tx(t))
	var hits atomic.Int64
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "gone", http.StatusGone)
	})
	feed := syncFeed(t, store, srv.URL)
	p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: store}
	rep := poll(t, p, feed.ID)
	if !rep.Gone || ErrorKind(rep.Err) != KindGone {
		t.Fatalf("report = %+v", rep)
	}
	got := readFeed(t, store, feed.ID)
	if got.GoneAt == nil || got.LastErrorKind != KindGone {
		t.Fatalf("feed = %+v", got)
	}
	within(t, "next poll", *got.NextPollAt, time.Now().Add(7*24*time.Hour), time.Minute)
	s := &Scheduler{Poller: p, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Concurrency: 2}
	if sum, err := s.PollAll(ctx, onSchedule([]storage.Feed{feed}, nil)); err != nil || sum.Skipped != 1 || hits.Load() != 1 {
		t.Fatalf("poll pass = %+v, %v; hits %d", sum, err, hits.Load())
	}
}

func TestPollFollowsPermanentRedirectSeenThreeTimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := map[string]struct {
		status int
		moves  bool
	}{
		"301": {http.StatusMovedPermanently, true},
		"308": {http.StatusPermanentRedirect, true},
		"302": {http.StatusFound, false},
		"307": {http.StatusTemporaryRedirect, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tx := storagetest.Tx(t)
			store := storage.New(tx)
			body := rss(rssItem{"Libya talks", "https://wire.example/l", "", ""})
			var oldHits atomic.Int64
			mux := http.NewServeMux()
			mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
				oldHits.Add(1)
				http.Redirect(w, r, "/new", tc.status)
			})
			mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			feed := syncFeed(t, store, srv.URL+"/old")
			p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: store}
			var moved string
			for range 4 {
				if rep := poll(t, p, feed.ID); rep.Err != nil {
					t.Fatalf("report = %+v", rep)
				} else if rep.MovedTo != "" {
					moved = rep.MovedTo
				}
			}
			got := readFeed(t, store, feed.ID)
			if !tc.moves {
				if got.FetchURL != "" || moved != "" || oldHits.Load() != 4 {
					t.Fatalf("a temporary redirect moved the feed: %+v (old URL hit %d times)", got, oldHits.Load())
				}
				return
			}
			if got.FetchURL != srv.URL+"/new" || moved != srv.URL+"/new" || got.URL != srv.URL+"/old" {
				t.Fatalf("feed = %+v, moved %q", got, moved)
			}
			if oldHits.Load() != 3 {
				t.Fatalf("old URL hit %d times, want 3 (then the new one only)", oldHits.Load())
			}
			var recorded int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM polls WHERE feed_id = $1 AND redirected_to = $2`, feed.ID, srv.URL+"/new").Scan(&recorded); err != nil || recorded != 1 {
				t.Fatalf("polls recording the move = %d, %v", recorded, err)
			}
		})
	}
}

func TestPollTakesFeedHintsAsAFloor(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		header http.Header
		body   string
		max    time.Duration
		want   time.Duration
	}{
		"no hints":                 {nil, rss(), 6 * time.Hour, 15 * time.Minute},
		"max-age":                  {http.Header{"Cache-Control": {"public, max-age=3600"}}, rss(), 6 * time.Hour, time.Hour},
		"max-age below the sched":  {http.Header{"Cache-Control": {"max-age=60"}}, rss(), 6 * time.Hour, 15 * time.Minute},
		"no-cache":                 {http.Header{"Cache-Control": {"no-cache"}, "Expires": {time.Now().Add(5 * time.Hour).UTC().Format(http.TimeFormat)}}, rss(), 6 * time.Hour, 15 * time.Minute},
		"expires":                  {http.Header{"Expires": {time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)}}, rss(), 6 * time.Hour, 2 * time.Hour},
		"rss ttl":                  {nil, `<rss version="2.0"><channel><title>T</title><ttl>180</ttl></channel></rss>`, 6 * time.Hour, 3 * time.Hour},
		"sy:updatePeriod":          {nil, `<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>T</title><sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency></channel></rss>`, 12 * time.Hour, 6 * time.Hour},
		"capped by max_interval":   {http.Header{"Cache-Control": {"max-age=86400"}}, rss(), 6 * time.Hour, 6 * time.Hour},
		"ignored with no interval": {http.Header{"Cache-Control": {"max-age=86400"}}, rss(), 0, 15 * time.Minute},
	}
	every, _ := cron.ParseStandard("@every 15m")
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store := storage.New(storagetest.Tx(t))
			srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header()[k] = v
				}
				io.WriteString(w, tc.body)
			})
			feed := syncFeed(t, store, srv.URL)
			p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: store, Policy: Policy{MaxInterval: tc.max}}
			before := time.Now()
			if rep, err := p.Poll(context.Background(), feed, every, nil); err != nil || rep.Err != nil {
				t.Fatalf("poll = %+v, %v", rep, err)
			}
			got := readFeed(t, store, feed.ID)
			if tc.want == 15*time.Minute {
				// The schedule's own turn: the feed's place in the quarter hour.
				if next := *got.NextPollAt; !next.After(before) || next.After(before.Add(tc.want+30*time.Second)) {
					t.Fatalf("next poll %s, want within the 15 minutes after %s", next, before)
				}
				return
			}
			within(t, "next poll", *got.NextPollAt, before.Add(tc.want), 30*time.Second)
		})
	}
}

func TestPollSendsAnUnconditionalRequestNowAndThen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := storagetest.Tx(t)
	store := storage.New(tx)
	var mu sync.Mutex
	var conditional []bool
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conditional = append(conditional, r.Header.Get("If-None-Match") != "")
		mu.Unlock()
		w.Header().Set("ETag", `"same"`) // a server that never changes its ETag
		if r.Header.Get("If-None-Match") == `"same"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, rss())
	})
	feed := syncFeed(t, store, srv.URL)
	p := &Poller{Fetcher: testFetcher(), Matcher: testMatcher(t), Store: store, Policy: Policy{UnconditionalEvery: time.Hour}}
	poll(t, p, feed.ID) // first poll: nothing to send
	poll(t, p, feed.ID) // conditional
	if _, err := tx.Exec(ctx, `UPDATE feeds SET last_unconditional_at = now() - interval '2 hours' WHERE id = $1`, feed.ID); err != nil {
		t.Fatal(err)
	}
	poll(t, p, feed.ID) // a day's... an hour's unconditional request
	poll(t, p, feed.ID) // conditional again
	mu.Lock()
	defer mu.Unlock()
	if want := []bool{false, true, false, true}; len(conditional) != 4 || conditional[0] != want[0] || conditional[1] != want[1] || conditional[2] != want[2] || conditional[3] != want[3] {
		t.Fatalf("conditional requests = %v, want %v", conditional, want)
	}
}

func TestFetcherIsPoliteToEachHost(t *testing.T) {
	t.Parallel()
	var inFlight, most atomic.Int64
	var mu sync.Mutex
	var starts []time.Time
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		io.WriteString(w, rss())
	})
	f := NewFetcher(FetchOptions{Timeout: 5 * time.Second, MaxBodySize: 1 << 20, AllowPrivateNetworks: true,
		PerHostConcurrency: 2, PerHostInterval: 20 * time.Millisecond})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.Fetch(context.Background(), srv.URL+"/feed"+strconv.Itoa(i), Validators{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most.Load() > 2 {
		t.Fatalf("%d requests in flight to one host, want at most 2", most.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	// The server sees each start a little after the client makes it, by
	// a varying delay, so single gaps are noisy; the ten starts must span
	// at least nine gaps, less some of that noise (a request
	// woken late by a loaded machine starts late).
	if span := starts[len(starts)-1].Sub(starts[0]); span < 9*20*time.Millisecond-60*time.Millisecond {
		t.Fatalf("10 requests started within %s, want at least 9 gaps of 20ms", span)
	}
}

func TestFetcherSlowsDownAHostThatAnswers429(t *testing.T) {
	t.Parallel()
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) })
	f := testFetcher()
	host := srv.Listener.Addr().String()
	for range 3 {
		if _, err := f.Fetch(context.Background(), srv.URL, Validators{}); ErrorKind(err) != KindHTTP {
			t.Fatalf("err = %v", err)
		}
	}
	if gap := f.hosts.currentGap(host); gap < 4*time.Second {
		t.Fatalf("gap after three 429s = %s, want 4s or more", gap)
	}
}

// Two instances polling the same feeds at once fetch each feed once.
func TestInstancesShareFeedsThroughClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	feeds, hits := feedsOnOneHost(t, pool, 40, 20*time.Millisecond)
	every, _ := cron.ParseStandard("@every 1h")
	scheduled := onSchedule(feeds, every)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range 2 {
		s := newScheduler(t, pool)
		s.Owner = "instance-" + strconv.Itoa(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(runCtx, scheduled, time.Second); err != nil {
				t.Error(err)
			}
		}()
	}
	waitFor(t, func() bool {
		var polled int
		_ = pool.QueryRow(ctx, "SELECT count(*) FROM feeds WHERE last_polled_at IS NOT NULL").Scan(&polled)
		return polled == len(feeds)
	})
	time.Sleep(200 * time.Millisecond) // room for a double poll to show
	stop()
	wg.Wait()
	for _, f := range feeds {
		if n := hits(f); n != 1 {
			t.Fatalf("%s fetched %d times, want once", f.URL, n)
		}
	}
	var owners int
	if err := pool.QueryRow(ctx, "SELECT count(DISTINCT lease_owner) FROM feeds WHERE lease_owner <> ''").Scan(&owners); err != nil || owners != 0 {
		t.Fatalf("claims left after a clean stop: %d owners (%v)", owners, err)
	}
	// Each poll record names the instance that made it.
	var unnamed, named int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE instance NOT IN ('instance-0', 'instance-1')),
		count(DISTINCT instance) FROM polls`).Scan(&unnamed, &named); err != nil || unnamed != 0 || named < 1 {
		t.Fatalf("poll records: %d without a known instance, %d instances (%v)", unnamed, named, err)
	}
}

// The feeds of an instance that died are polled by another once its lease
// runs out.
func TestExpiredClaimIsTakenOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storage.New(storagetest.Tx(t))
	feed := syncFeed(t, store, "https://wire.example/rss")
	now := time.Now()
	if got, err := store.ClaimDue(ctx, "dead", nil, 10, now, 50*time.Millisecond); err != nil || len(got) != 1 {
		t.Fatalf("first claim = %v, %v", got, err)
	}
	if got, err := store.ClaimDue(ctx, "alive", nil, 10, now, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("claim while held = %v, %v", got, err)
	}
	if _, refused, err := claimOne(t, store, "alive", feed.ID, now, time.Minute); err != nil || refused != storage.RefusedClaimed {
		t.Fatalf("one-off claim while held: refused %q, %v", refused, err)
	}
	time.Sleep(100 * time.Millisecond)
	if got, err := store.ClaimDue(ctx, "alive", nil, 10, time.Now(), time.Minute); err != nil || len(got) != 1 {
		t.Fatalf("claim after the lease ran out = %v, %v", got, err)
	}
}

func TestSpreadNextSpreadsFeedsOverTheInterval(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"*/15 * * * *", "@every 15m"} {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			sched, _ := cron.ParseStandard(spec)
			// All polled together at 10:00:07, as after a first round.
			now := time.Date(2026, 1, 1, 10, 0, 7, 0, time.UTC)
			var buckets [15]int
			for i := range 3000 {
				key := "https://feeds.example/" + strconv.Itoa(i)
				next, interval := spreadNext(sched, key, now)
				if interval != 15*time.Minute || !next.After(now) || next.Sub(now) > 15*time.Minute+30*time.Second {
					t.Fatalf("feed %d: next %s, interval %s", i, next, interval)
				}
				buckets[int(next.Sub(now).Minutes())%15]++
				// The turn after keeps the feed's place.
				if after, _ := spreadNext(sched, key, next); after.Sub(next) < 14*time.Minute || after.Sub(next) > 16*time.Minute {
					t.Fatalf("feed %d: turns at %s and %s", i, next, after)
				}
			}
			for m, n := range buckets {
				if n < 120 || n > 280 { // 200 expected per minute
					t.Fatalf("minute %d of the quarter has %d of 3000 feeds: %v", m, n, buckets)
				}
			}
		})
	}
}

func TestHTTPCacheHeaders(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		v    string
		want time.Time
	}{
		"seconds":  {"30", now.Add(30 * time.Second)},
		"date":     {"Thu, 01 Jan 2026 12:00:00 GMT", now.Add(2 * time.Hour)},
		"garbage":  {"soon", time.Time{}},
		"negative": {"-5", time.Time{}},
		"empty":    {"", time.Time{}},
	} {
		if got := retryAfter(tc.v, now); !got.Equal(tc.want) {
			t.Errorf("retryAfter %s: %s, want %s", name, got, tc.want)
		}
	}
	for name, tc := range map[string]struct {
		h    http.Header
		want time.Duration
	}{
		"max-age":        {http.Header{"Cache-Control": {"max-age=600"}}, 10 * time.Minute},
		"quoted max-age": {http.Header{"Cache-Control": {`private, max-age="60"`}}, time.Minute},
		"no-store":       {http.Header{"Cache-Control": {"no-store, max-age=600"}}, 0},
		"expires 0":      {http.Header{"Expires": {"0"}}, 0},
		"expires by date": {http.Header{"Expires": {"Thu, 01 Jan 2026 11:00:00 GMT"}, "Date": {"Thu, 01 Jan 2026 10:30:00 GMT"}},
			30 * time.Minute},
	} {
		if got := cacheLifetime(tc.h, now); got != tc.want {
			t.Errorf("cacheLifetime %s: %s, want %s", name, got, tc.want)
		}
	}
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

// An instance leaves alone the feeds that only another instance's (newer)
// configuration lists, and still polls its own.
func TestRunLeavesFeedsItDoesNotKnow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	feeds, hits := feedsOnOneHost(t, pool, 2, 0) // this instance's, and another's
	every, _ := cron.ParseStandard("@every 1h")
	s := newScheduler(t, pool)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, onSchedule(feeds[:1], every), time.Second) }()
	waitFor(t, func() bool { f, _ := s.Poller.Store.Feed(ctx, feeds[0].ID); return f.LastPolledAt != nil })
	time.Sleep(300 * time.Millisecond)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if hits(feeds[1]) != 0 {
		t.Fatal("polled a feed its configuration does not list")
	}
	theirs, _ := s.Poller.Store.Feed(ctx, feeds[1].ID)
	if theirs.LastPolledAt != nil || theirs.NextPollAt != nil {
		t.Fatalf("the unknown feed changed: %+v", theirs)
	}
	var leased int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM feeds WHERE lease_owner <> ''").Scan(&leased); err != nil || leased != 0 {
		t.Fatalf("%d claims left after a clean stop (%v)", leased, err)
	}
}

// On a stop, polls still waiting for their turn at a host give up at once,
// unrecorded, instead of holding the stop until their turn comes.
func TestRunStopDropsPollsWaitingForAHost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	feeds, _ := feedsOnOneHost(t, pool, 6, 0)
	s := newScheduler(t, pool)
	// One host, a request every 10 s: after the first poll the others wait.
	s.Poller.Fetcher = NewFetcher(FetchOptions{UserAgent: "wirewatch-test/1", Timeout: 2 * time.Second,
		MaxBodySize: 1 << 20, AllowPrivateNetworks: true, PerHostConcurrency: 1, PerHostInterval: 10 * time.Second})
	every, _ := cron.ParseStandard("@every 1h")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, onSchedule(feeds, every), 30*time.Second) }()
	waitFor(t, func() bool {
		var n int
		_ = pool.QueryRow(ctx, "SELECT count(*) FROM polls").Scan(&n)
		return n == 1
	})
	stopped := time.Now()
	stopRun(t, stop, done, 5*time.Second, "Run waited for the host's turns instead of stopping")
	var polls, leased int
	if err := pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM polls), (SELECT count(*) FROM feeds WHERE lease_owner <> '')").
		Scan(&polls, &leased); err != nil {
		t.Fatal(err)
	}
	if polls != 1 || leased != 0 {
		t.Fatalf("after the stop (%s): %d poll records, %d feeds still claimed; want 1 and 0", time.Since(stopped), polls, leased)
	}
}

// feedsOnOneHost serves n feeds from one loopback server, each answering
// after delay with one item about Libya, and syncs them into the database.
// hits says how often a feed was fetched.
func feedsOnOneHost(t *testing.T, pool *pgxpool.Pool, n int, delay time.Duration) (feeds []storage.Feed, hits func(storage.Feed) int64) {
	t.Helper()
	var counts sync.Map
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, _ := counts.LoadOrStore(r.URL.Path, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		time.Sleep(delay)
		io.WriteString(w, rss(rssItem{"Libya talks " + r.URL.Path, "https://wire.example" + r.URL.Path, "", ""}))
	})
	var specs []storage.FeedSpec
	for i := range n {
		specs = append(specs, storage.FeedSpec{URL: srv.URL + "/f" + strconv.Itoa(i)})
	}
	feeds, err := storage.New(pool).SyncFeeds(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	return feeds, func(f storage.Feed) int64 {
		if c, ok := counts.Load(f.URL[len(srv.URL):]); ok {
			return c.(*atomic.Int64).Load()
		}
		return 0
	}
}
