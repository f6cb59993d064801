package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// FeedSpec is a feed as the configuration lists it.
type FeedSpec struct {
	URL  string
	Name string
}

// Feed is a feed row with the state its next poll needs.
type Feed struct {
	ID                  int64
	URL                 string
	Name                string
	Title               string
	ETag                string
	LastModified        string
	BodyHash            string
	LastPolledAt        *time.Time
	LastSuccessAt       *time.Time
	LastOutcome         string
	LastError           string
	LastErrorKind       string
	ConsecutiveFailures int

	// Scheduling state (see migration 004).
	NextPollAt          *time.Time
	PollInterval        time.Duration // as last planned; 0 before the first poll
	NotBefore           *time.Time    // Retry-After: no request before this
	GoneAt              *time.Time    // answered 410 Gone
	FetchURL            string        // where the feed moved; "" = URL
	MovedTo             string        // a permanent redirect seen MovedCount polls in a row
	MovedCount          int
	TTL                 time.Duration // the feed's own minimum interval; 0 for none
	LastUnconditionalAt *time.Time

	// SeenItems are the digests of the items of the last parsed body, as
	// ingest wrote them (migration 009).
	SeenItems []byte
}

// PollURL is the URL to fetch: where the feed moved, or the configured one.
func (f Feed) PollURL() string {
	if f.FetchURL != "" {
		return f.FetchURL
	}
	return f.URL
}

// DisplayName is the configured name, else the feed's own title, else its
// URL.
func (f Feed) DisplayName() string {
	switch {
	case f.Name != "":
		return f.Name
	case f.Title != "":
		return f.Title
	}
	return f.URL
}

const feedColumns = `id, url, name, title, etag, last_modified, body_hash, last_polled_at, last_success_at,
	last_outcome, last_error, last_error_kind, consecutive_failures,
	next_poll_at, coalesce(poll_interval_seconds, 0), not_before, gone_at, fetch_url, moved_to, moved_count,
	coalesce(ttl_seconds, 0), last_unconditional_at, seen_items`

func scanFeed(row pgx.Row) (Feed, error) {
	var f Feed
	var interval, ttl int64
	err := row.Scan(&f.ID, &f.URL, &f.Name, &f.Title, &f.ETag, &f.LastModified, &f.BodyHash, &f.LastPolledAt,
		&f.LastSuccessAt, &f.LastOutcome, &f.LastError, &f.LastErrorKind, &f.ConsecutiveFailures,
		&f.NextPollAt, &interval, &f.NotBefore, &f.GoneAt, &f.FetchURL, &f.MovedTo, &f.MovedCount, &ttl,
		&f.LastUnconditionalAt, &f.SeenItems)
	f.PollInterval, f.TTL = time.Duration(interval)*time.Second, time.Duration(ttl)*time.Second
	return f, err
}

func collectFeeds(rows pgx.Rows) ([]Feed, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Feed, error) { return scanFeed(r) })
}

// SyncFeeds makes the feeds table agree with the configuration: new feeds
// are added, names updated, and feeds no longer configured are marked
// in_config = false (their history stays). It returns the configured feeds in
// the order given, with their ID, URL, Name and Title only: the state a
// poll needs comes with the claim that starts it (ClaimMany), fresh, and
// reading it here for ten thousand feeds took a tenth of a round of 304s.
func (s *Store) SyncFeeds(ctx context.Context, specs []FeedSpec) ([]Feed, error) {
	urls := make([]string, len(specs))
	names := make([]string, len(specs))
	for i, f := range specs {
		urls[i], names[i] = f.URL, f.Name
	}
	var feeds []Feed
	err := s.WithTx(ctx, func(tx *Store) error {
		_, err := tx.db.Exec(ctx, `
			INSERT INTO feeds (url, name)
			SELECT url, name FROM unnest($1::text[], $2::text[]) AS t(url, name)
			ON CONFLICT (url) DO UPDATE SET name = EXCLUDED.name, in_config = true
			WHERE feeds.name IS DISTINCT FROM EXCLUDED.name OR NOT feeds.in_config`, urls, names)
		if err != nil {
			return fmt.Errorf("sync feeds: %w", err)
		}
		if _, err := tx.db.Exec(ctx, `UPDATE feeds SET in_config = false WHERE in_config AND url <> ALL($1::text[])`, urls); err != nil {
			return fmt.Errorf("sync feeds: %w", err)
		}
		rows, err := tx.db.Query(ctx, `
			SELECT id, url, name, title FROM feeds
			JOIN unnest($1::text[]) WITH ORDINALITY AS c(url, ord) USING (url)
			ORDER BY c.ord`, urls)
		if err != nil {
			return fmt.Errorf("sync feeds: %w", err)
		}
		feeds = make([]Feed, 0, len(urls))
		var f Feed
		_, err = pgx.ForEachRow(rows, []any{&f.ID, &f.URL, &f.Name, &f.Title}, func() error {
			feeds = append(feeds, f)
			return nil
		})
		return err
	})
	return feeds, err
}

// Feed reads one feed by id.
func (s *Store) Feed(ctx context.Context, id int64) (Feed, error) {
	f, err := scanFeed(s.db.QueryRow(ctx, `SELECT `+feedColumns+` FROM feeds WHERE id = $1`, id))
	if err != nil {
		return Feed{}, fmt.Errorf("read feed %d: %w", id, err)
	}
	return f, nil
}

// FailingFeeds returns the configured feeds whose last poll failed, the
// longest-failing first.
func (s *Store) FailingFeeds(ctx context.Context) ([]Feed, error) {
	rows, err := s.db.Query(ctx, `SELECT `+feedColumns+` FROM feeds
		WHERE in_config AND last_outcome = 'failed'
		ORDER BY consecutive_failures DESC, url`)
	if err != nil {
		return nil, fmt.Errorf("list failing feeds: %w", err)
	}
	feeds, err := collectFeeds(rows)
	if err != nil {
		return nil, fmt.Errorf("list failing feeds: %w", err)
	}
	return feeds, nil
}

// FeedTitle is what a feed says about itself, as its polls stored it.
type FeedTitle struct {
	Title   string
	SiteURL string
}

// FeedTitles returns, by URL, the stored title and site URL of those feeds
// at urls that have either; feeds never polled, or unknown, are left out.
func (s *Store) FeedTitles(ctx context.Context, urls []string) (map[string]FeedTitle, error) {
	rows, err := s.db.Query(ctx, `SELECT url, title, site_url FROM feeds
		WHERE url = ANY($1::text[]) AND (title <> '' OR site_url <> '')`, urls)
	if err != nil {
		return nil, fmt.Errorf("read feed titles: %w", err)
	}
	out := map[string]FeedTitle{}
	var url string
	var t FeedTitle
	_, err = pgx.ForEachRow(rows, []any{&url, &t.Title, &t.SiteURL}, func() error {
		out[url] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read feed titles: %w", err)
	}
	return out, nil
}
