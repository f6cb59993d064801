package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wirewatch/wirewatch/classify"
)

// Poll outcomes, as stored in polls.outcome and feeds.last_outcome.
const (
	OutcomeOK          = "ok"
	OutcomeNotModified = "not_modified"
	OutcomeFailed      = "failed"
)

// Poll is everything one poll of one feed produced.
type Poll struct {
	FeedID     int64
	StartedAt  time.Time
	Duration   time.Duration
	Outcome    string
	HTTPStatus int // 0 when there was no HTTP response (file feeds, network errors)
	Bytes      int64
	ItemsSeen  int
	ErrorKind  string
	Error      string

	// The feed's state after a successful poll; ignored unless Outcome is
	// OutcomeOK.
	ETag, LastModified, BodyHash string
	FeedTitle, SiteURL           string

	// When the feed is polled next and what its server asked for, decided
	// by ingest; written with the poll, and the feed's claim released.
	DueAt         *time.Time    // when this poll was due (nil: out of schedule)
	NextPollAt    time.Time     // zero: due at once
	Interval      time.Duration // the interval NextPollAt was planned with
	NotBefore     *time.Time    // Retry-After; nil clears it
	Gone          bool          // 410 Gone
	FetchURL      string        // the URL to fetch from now on; "" is the configured one
	MovedTo       string        // a permanent redirect seen MovedCount polls in a row
	MovedCount    int
	RedirectedTo  string        // the new URL, when this poll moved the feed
	TTL           time.Duration // the feed's own minimum interval (kept from the last parsed body)
	Unconditional bool          // fetched without validators
	Instance      string        // the instance that made the poll (its claims' owner)
	SeenItems     []byte        // the digests of the body's items (Feed.SeenItems); kept unless Outcome is OutcomeOK

	// Items are the matching items to store.
	Items []Item
	// Stories says how new items are grouped into stories as they are
	// stored.
	Stories StoryOptions

	// Unmatched are the items that matched nothing, kept for rematch (empty
	// when retention.unmatched is 0). Only their text is kept: Key and
	// ContentHash may be left empty.
	Unmatched []Item
}

// Item is one matching item to store.
type Item struct {
	Key         string // classify.ItemKey
	GUID        string
	Link        string
	Title       string
	Summary     string
	Content     string
	Author      string
	Categories  []string
	PublishedAt *time.Time
	Watches     []string
	Hits        []classify.Hit
	Snippets    map[string]string // by watch entry
	ContentHash string            // of title and text: a change is an edit
	Signature   []byte            // MinHash signature (classify.Signature.Bytes); nil for no text
	Bands       []int64           // its LSH band keys
	Relevance   *float64          // to the reference articles; nil without any
}

// Saved says what SavePoll wrote.
type Saved struct {
	NewItems     int // matching items stored for the first time
	UpdatedItems int // stored items whose title or text the feed changed
}

// Found-by values of a match.
const (
	FoundByPoll    = "poll"
	FoundByRematch = "rematch"
)

// SavePoll stores a poll in one transaction: the matching items (each once,
// with the feed recorded as a sighting), their matches and hits, the poll
// record and the feed's new state. If anything fails nothing is written, and
// the feed's ETag and body hash stay as they were, so the next poll fetches
// and stores the same items again. Polls that end at the same time share
// the transaction (see savePolls). The unmatched items it keeps are written
// first, on their own (see keepUnmatched). It returns what the poll stored.
func (s *Store) SavePoll(ctx context.Context, p Poll) (saved Saved, err error) {
	if len(p.Unmatched) > 0 {
		if err := s.keepUnmatched(ctx, p.FeedID, p.Unmatched); err != nil {
			return Saved{}, fmt.Errorf("save poll of feed %d: %w", p.FeedID, err)
		}
		p.Unmatched = nil // written: not held while the poll waits
	}
	if s.batch == nil {
		// In a transaction already: no one to share it with.
		all, err := s.savePolls(ctx, []Poll{p})
		if err != nil {
			return Saved{}, fmt.Errorf("save poll of feed %d: %w", p.FeedID, err)
		}
		return all[0], nil
	}
	if saved, err = s.saveBatched(ctx, p); err != nil {
		return Saved{}, fmt.Errorf("save poll of feed %d: %w", p.FeedID, err)
	}
	return saved, nil
}

// savePolls stores polls of different feeds together, in one transaction,
// and returns what each stored. Polls without matching items (a 304, an
// unchanged body, a failure, new items that all matched nothing) are one
// statement, in one round trip.
func (s *Store) savePolls(ctx context.Context, polls []Poll) ([]Saved, error) {
	saved := make([]Saved, len(polls))
	var feeds []int64
	var items []Item
	var owner []int
	for i, p := range polls {
		for _, it := range p.Items {
			feeds, items, owner = append(feeds, p.FeedID), append(items, it), append(owner, i)
		}
	}
	if len(items) == 0 {
		return saved, s.recordPolls(ctx, polls, saved)
	}
	err := s.pipelined(ctx, func(pl *pipeline) error {
		_, err := s.storeItems(ctx, pl, feeds, items, FoundByPoll, polls[0].Stories, func(b *pgx.Batch, out []itemOutcome) {
			for k, o := range out {
				switch o {
				case itemNew:
					saved[owner[k]].NewItems++
				case itemUpdated:
					saved[owner[k]].UpdatedItems++
				}
			}
			b.Queue(recordSQL, recordArgs(polls, saved)...)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return saved, nil
}

// recordPolls writes the records of polls (of different feeds) and their
// feeds' new states in one statement, saved[i] being what polls[i] stored:
// a transaction of its own, for its generic plan (see pipeline).
func (s *Store) recordPolls(ctx context.Context, polls []Poll, saved []Saved) error {
	err := s.pipelined(ctx, func(pl *pipeline) error {
		res, err := pl.send(ctx, true, func(b *pgx.Batch) { b.Queue(recordSQL, recordArgs(polls, saved)...) })
		if err != nil {
			return err
		}
		defer res.Close()
		if _, err := res.Exec(); err != nil {
			return err
		}
		return res.Close()
	})
	if err != nil {
		return fmt.Errorf("record poll: %w", err)
	}
	return nil
}

// recordArgs are the arguments of recordSQL for polls.
func recordArgs(polls []Poll, saved []Saved) []any {
	var c struct {
		feed                                                 []int64
		started                                              []time.Time
		due, next, notBefore                                 []*time.Time
		outcome, errText, errKind, etag, lastMod, bodyHash   []string
		title, site, fetchURL, movedTo, redirected           []string
		interval, ttl, bytes                                 []int64
		movedCount, durationMS, itemsSeen, newItems, updated []int32
		status                                               []*int32
		gone, unconditional                                  []bool
		seen                                                 [][]byte
		instance                                             []string
	}
	for i, p := range polls {
		var status *int32
		if p.HTTPStatus != 0 {
			v := int32(p.HTTPStatus)
			status = &v
		}
		c.feed = append(c.feed, p.FeedID)
		c.started = append(c.started, p.StartedAt)
		c.due = append(c.due, p.DueAt)
		c.next = append(c.next, nullTime(p.NextPollAt))
		c.notBefore = append(c.notBefore, p.NotBefore)
		c.outcome = append(c.outcome, p.Outcome)
		c.errText = append(c.errText, p.Error)
		c.errKind = append(c.errKind, p.ErrorKind)
		c.etag = append(c.etag, p.ETag)
		c.lastMod = append(c.lastMod, p.LastModified)
		c.bodyHash = append(c.bodyHash, p.BodyHash)
		c.title = append(c.title, p.FeedTitle)
		c.site = append(c.site, p.SiteURL)
		c.fetchURL = append(c.fetchURL, p.FetchURL)
		c.movedTo = append(c.movedTo, p.MovedTo)
		c.redirected = append(c.redirected, p.RedirectedTo)
		c.interval = append(c.interval, int64(p.Interval/time.Second))
		c.ttl = append(c.ttl, int64(p.TTL/time.Second))
		c.bytes = append(c.bytes, p.Bytes)
		c.movedCount = append(c.movedCount, int32(p.MovedCount))
		c.durationMS = append(c.durationMS, int32(min(p.Duration.Milliseconds(), 1<<31-1)))
		c.itemsSeen = append(c.itemsSeen, int32(p.ItemsSeen))
		c.newItems = append(c.newItems, int32(saved[i].NewItems))
		c.updated = append(c.updated, int32(saved[i].UpdatedItems))
		c.status = append(c.status, status)
		c.gone = append(c.gone, p.Gone)
		c.unconditional = append(c.unconditional, p.Unconditional)
		c.seen = append(c.seen, p.SeenItems)
		c.instance = append(c.instance, p.Instance)
	}
	return []any{c.feed, c.started, c.due, c.next, c.notBefore, c.outcome, c.errText, c.errKind, c.etag,
		c.lastMod, c.bodyHash, c.title, c.site, c.fetchURL, c.movedTo, c.redirected,
		c.interval, c.ttl, c.bytes, c.movedCount, c.durationMS, c.itemsSeen, c.newItems,
		c.updated, c.status, c.gone, c.unconditional, c.seen, c.instance}
}

// recordSQL writes poll records and their feeds' new states (recordArgs),
// giving back the feeds' claims.
const recordSQL = `
		WITH t AS (
			SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[],
			                     $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
			                     $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
			                     $17::bigint[], $18::bigint[], $19::bigint[], $20::int[], $21::int[], $22::int[],
			                     $23::int[], $24::int[], $25::int[], $26::bool[], $27::bool[], $28::bytea[],
			                     $29::text[])
			         AS t(feed_id, started_at, due_at, next_poll_at, not_before, outcome, error, error_kind, etag,
			              last_modified, body_hash, title, site_url, fetch_url, moved_to, redirected_to,
			              interval_s, ttl_s, bytes, moved_count, duration_ms, items_seen, new_matches,
			              items_updated, http_status, gone, unconditional, seen_items, instance)
		), record AS (
			INSERT INTO polls (feed_id, started_at, duration_ms, outcome, http_status, bytes, items_seen,
			                   new_matches, items_updated, error_kind, error, due_at, redirected_to, instance)
			SELECT feed_id, started_at, duration_ms, outcome, http_status, bytes, items_seen,
			       new_matches, items_updated, error_kind, error, due_at, redirected_to, instance
			FROM t
		)
		UPDATE feeds f SET
			last_polled_at       = t.started_at,
			last_outcome         = t.outcome,
			last_success_at      = CASE WHEN t.outcome = 'failed' THEN f.last_success_at ELSE t.started_at END,
			consecutive_failures = CASE WHEN t.outcome = 'failed' THEN f.consecutive_failures + 1 ELSE 0 END,
			last_error           = CASE WHEN t.outcome = 'failed' THEN t.error ELSE '' END,
			last_error_kind      = CASE WHEN t.outcome = 'failed' THEN t.error_kind ELSE '' END,
			etag                 = CASE WHEN t.outcome = 'ok' THEN t.etag ELSE f.etag END,
			last_modified        = CASE WHEN t.outcome = 'ok' THEN t.last_modified ELSE f.last_modified END,
			body_hash            = CASE WHEN t.outcome = 'ok' THEN t.body_hash ELSE f.body_hash END,
			title                = CASE WHEN t.outcome = 'ok' AND t.title <> '' THEN t.title ELSE f.title END,
			site_url             = CASE WHEN t.outcome = 'ok' AND t.site_url <> '' THEN t.site_url ELSE f.site_url END,
			next_poll_at         = t.next_poll_at,
			poll_interval_seconds = t.interval_s,
			not_before           = t.not_before,
			gone_at              = CASE WHEN t.gone THEN coalesce(f.gone_at, t.started_at) END,
			fetch_url            = t.fetch_url,
			moved_to             = t.moved_to,
			moved_count          = t.moved_count,
			ttl_seconds          = CASE WHEN t.outcome = 'ok' THEN nullif(t.ttl_s, 0) ELSE f.ttl_seconds END,
			last_unconditional_at = CASE WHEN t.unconditional AND t.outcome <> 'failed' THEN t.started_at
			                            ELSE f.last_unconditional_at END,
			seen_items           = CASE WHEN t.outcome = 'ok' THEN coalesce(t.seen_items, '') ELSE f.seen_items END,
			lease_owner          = '',
			lease_until          = NULL
		FROM t
		WHERE f.id = t.feed_id`

// columns are items as the arrays an unnest takes. Categories are joined
// with the unit separator, since unnest flattens an array of arrays.
type columns struct {
	key, guid, link, title, summary, content, author, categories, hash []string
	published                                                          []*time.Time
	signature                                                          [][]byte
	bands                                                              []*string // array literals
	relevance                                                          []*float64
}

func itemColumns(items []Item) columns {
	var c columns
	for _, it := range items {
		c.key = append(c.key, it.Key)
		c.guid = append(c.guid, it.GUID)
		c.link = append(c.link, it.Link)
		c.title = append(c.title, it.Title)
		c.summary = append(c.summary, it.Summary)
		c.content = append(c.content, it.Content)
		c.author = append(c.author, it.Author)
		c.categories = append(c.categories, strings.Join(it.Categories, "\x1f"))
		c.published = append(c.published, it.PublishedAt)
		c.hash = append(c.hash, it.ContentHash)
		c.signature = append(c.signature, it.Signature)
		var bands *string
		if len(it.Bands) > 0 {
			lit := arrayLiteral(it.Bands)
			bands = &lit
		}
		c.bands = append(c.bands, bands)
		c.relevance = append(c.relevance, it.Relevance)
	}
	return c
}

// arrayLiteral writes ints as a PostgreSQL array literal, for arrays of
// arrays, which unnest would flatten.
func arrayLiteral(xs []int64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatInt(x, 10)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// nullTime is t, or NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
