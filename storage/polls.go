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
	// Unmatched are the items that matched nothing, kept for rematch (empty
	// when retention.unmatched is 0).
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
// and stores the same items again. It returns the number of items stored for
// the first time.
func (s *Store) SavePoll(ctx context.Context, p Poll) (saved Saved, err error) {
	if len(p.Items) == 0 && len(p.Unmatched) == 0 {
		// Most polls (304, unchanged, failed) store no item: their record
		// and the feed's new state are one statement, atomic by itself.
		if err := s.recordBatched(ctx, p); err != nil {
			return Saved{}, fmt.Errorf("save poll of feed %d: %w", p.FeedID, err)
		}
		return saved, nil
	}
	err = s.WithTx(ctx, func(tx *Store) error {
		if len(p.Items) > 0 {
			if saved, _, err = tx.storeItems(ctx, p.FeedID, p.Items, FoundByPoll); err != nil {
				return err
			}
		}
		if len(p.Unmatched) > 0 {
			if err := tx.retainUnmatched(ctx, p.FeedID, p.Unmatched); err != nil {
				return err
			}
		}
		return tx.recordPoll(ctx, p, saved)
	})
	if err != nil {
		return Saved{}, fmt.Errorf("save poll of feed %d: %w", p.FeedID, err)
	}
	return saved, nil
}

// recordPoll writes the poll record and the feed's new state (giving back
// its claim) in one statement.
func (s *Store) recordPoll(ctx context.Context, p Poll, saved Saved) error {
	return s.recordPolls(ctx, []Poll{p}, []Saved{saved})
}

// recordPolls writes the records of polls (of different feeds) and their
// feeds' new states in one statement, saved[i] being what polls[i] stored.
func (s *Store) recordPolls(ctx context.Context, polls []Poll, saved []Saved) error {
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
	_, err := s.db.Exec(ctx, `
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
		WHERE f.id = t.feed_id`,
		c.feed, c.started, c.due, c.next, c.notBefore, c.outcome, c.errText, c.errKind, c.etag,
		c.lastMod, c.bodyHash, c.title, c.site, c.fetchURL, c.movedTo, c.redirected,
		c.interval, c.ttl, c.bytes, c.movedCount, c.durationMS, c.itemsSeen, c.newItems,
		c.updated, c.status, c.gone, c.unconditional, c.seen, c.instance)
	if err != nil {
		return fmt.Errorf("record poll: %w", err)
	}
	return nil
}

// storeItems writes items (already deduplicated by key) seen in one feed.
// An item is known when this feed carried its GUID before or when its key is
// stored; unknown items are inserted (and leave unmatched_items, if they were
// kept there), and every item gets its sighting, matches and hits, each
// written only if missing. A known item whose content hash changed is
// updated in place and its revision counted. It returns the items inserted
// and updated, and the number of matches added.
func (s *Store) storeItems(ctx context.Context, feedID int64, items []Item, foundBy string) (saved Saved, newMatches int64, err error) {
	keys := make([]string, len(items))
	guids := make([]string, len(items))
	for i, it := range items {
		keys[i], guids[i] = it.Key, it.GUID
	}
	ids := make([]int64, len(items))
	rows, err := s.db.Query(ctx, `
		SELECT k.ord, i.id, i.content_hash
		FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS k(key, guid, ord)
		CROSS JOIN LATERAL (SELECT coalesce(
			(SELECT s.item_id FROM item_sightings s WHERE s.feed_id = $1 AND s.guid = k.guid AND s.guid <> '' LIMIT 1),
			(SELECT i.id FROM items i WHERE i.key = k.key)) AS id) found
		JOIN items i ON i.id = found.id`, feedID, keys, guids)
	if err != nil {
		return Saved{}, 0, fmt.Errorf("look up items: %w", err)
	}
	var ord, id int64
	var hash string
	var edited []Item
	var editedIDs []int64
	if _, err := pgx.ForEachRow(rows, []any{&ord, &id, &hash}, func() error {
		ids[ord-1] = id
		if it := items[ord-1]; it.ContentHash != "" && hash != "" && it.ContentHash != hash {
			edited = append(edited, it)
			editedIDs = append(editedIDs, id)
		}
		return nil
	}); err != nil {
		return Saved{}, 0, fmt.Errorf("look up items: %w", err)
	}
	if len(edited) > 0 {
		// The same item, changed by its feed: updated in place, never a new
		// item. Its key and its story stay.
		c := itemColumns(edited)
		tag, err := s.db.Exec(ctx, `
			UPDATE items SET title = t.title, summary = t.summary, content = t.content, author = t.author,
			       content_hash = t.hash, revisions = items.revisions + 1, updated_at = now(),
			       relevance = coalesce(t.relevance, items.relevance)
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::real[])
			     AS t(id, title, summary, content, author, hash, relevance)
			WHERE items.id = t.id AND items.content_hash <> t.hash`,
			editedIDs, c.title, c.summary, c.content, c.author, c.hash, c.relevance)
		if err != nil {
			return Saved{}, 0, fmt.Errorf("update edited items: %w", err)
		}
		saved.UpdatedItems = int(tag.RowsAffected())
	}

	// Insert the unknown ones. ON CONFLICT covers an instance that stored the
	// same key a moment ago.
	var fresh []Item
	var freshAt []int
	for i, id := range ids {
		if id == 0 {
			fresh = append(fresh, items[i])
			freshAt = append(freshAt, i)
		}
	}
	if len(fresh) > 0 {
		c := itemColumns(fresh)
		rows, err := s.db.Query(ctx, `
			INSERT INTO items (key, feed_id, guid, link, title, summary, content, author, categories, published_at,
			                   content_hash, signature, bands, relevance)
			SELECT key, $1, guid, link, title, summary, content, author, string_to_array(categories, E'\x1f'),
			       published_at, hash, signature, bands::bigint[], relevance
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			            $9::text[], $10::timestamptz[], $11::text[], $12::bytea[], $13::text[], $14::real[])
			     AS t(key, guid, link, title, summary, content, author, categories, published_at, hash, signature, bands,
			          relevance)
			ON CONFLICT (key) DO NOTHING
			RETURNING key, id`,
			feedID, c.key, c.guid, c.link, c.title, c.summary, c.content, c.author, c.categories, c.published,
			c.hash, c.signature, c.bands, c.relevance)
		if err != nil {
			return Saved{}, 0, fmt.Errorf("insert items: %w", err)
		}
		byKey := map[string]int64{}
		var key string
		if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error {
			byKey[key] = id
			return nil
		}); err != nil {
			return Saved{}, 0, fmt.Errorf("insert items: %w", err)
		}
		saved.NewItems = len(byKey)
		if len(byKey) < len(fresh) {
			rows, err := s.db.Query(ctx, `SELECT key, id FROM items WHERE key = ANY($1::text[])`, c.key)
			if err != nil {
				return Saved{}, 0, fmt.Errorf("look up items: %w", err)
			}
			if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error {
				byKey[key] = id
				return nil
			}); err != nil {
				return Saved{}, 0, fmt.Errorf("look up items: %w", err)
			}
		}
		for k, i := range freshAt {
			ids[i] = byKey[fresh[k].Key]
		}
		// A kept unmatched item that matches now is a match, not both.
		if _, err := s.db.Exec(ctx, `DELETE FROM unmatched_items WHERE key = ANY($1::text[])`, c.key); err != nil {
			return Saved{}, 0, fmt.Errorf("delete promoted unmatched items: %w", err)
		}
	}

	var sight struct {
		item       []int64
		guid, link []string
	}
	for i, it := range items {
		sight.item = append(sight.item, ids[i])
		sight.guid = append(sight.guid, it.GUID)
		sight.link = append(sight.link, it.Link)
	}
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO item_sightings (item_id, feed_id, guid, link)
		SELECT item_id, $1, guid, link FROM unnest($2::bigint[], $3::text[], $4::text[]) AS t(item_id, guid, link)
		ON CONFLICT DO NOTHING`, feedID, sight.item, sight.guid, sight.link)
	newMatches, err = s.insertMatches(ctx, b, ids, items, foundBy)
	if err != nil {
		return Saved{}, 0, err
	}
	return saved, newMatches, nil
}

// insertMatches queues the matches and hits of items (stored under ids)
// behind the statements already in b, sends the batch, and returns the
// number of matches that were new.
func (s *Store) insertMatches(ctx context.Context, b *pgx.Batch, ids []int64, items []Item, foundBy string) (int64, error) {
	var m struct {
		item    []int64
		watch   []string
		snippet []string
	}
	var h struct {
		item               []int64
		watch, term, field []string
		start, end, count  []int32
	}
	for i, it := range items {
		for _, w := range it.Watches {
			m.item = append(m.item, ids[i])
			m.watch = append(m.watch, w)
			m.snippet = append(m.snippet, it.Snippets[w])
		}
		for _, x := range it.Hits {
			h.item = append(h.item, ids[i])
			h.watch = append(h.watch, x.Watch)
			h.term = append(h.term, x.Term)
			h.field = append(h.field, x.Field)
			h.start = append(h.start, int32(x.Start))
			h.end = append(h.end, int32(x.End))
			h.count = append(h.count, int32(x.Count))
		}
	}
	first := b.Len()
	b.Queue(`
		INSERT INTO matches (item_id, watch, snippet, found_by)
		SELECT item_id, watch, snippet, $4 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(item_id, watch, snippet)
		ON CONFLICT DO NOTHING`, m.item, m.watch, m.snippet, foundBy)
	b.Queue(`
		INSERT INTO match_hits (item_id, watch, term, field, start_offset, end_offset, occurrences)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[])
		ON CONFLICT DO NOTHING`, h.item, h.watch, h.term, h.field, h.start, h.end, h.count)
	res := s.db.SendBatch(ctx, b)
	defer res.Close()
	var added int64
	for i := 0; i < b.Len(); i++ {
		tag, err := res.Exec()
		if err != nil {
			return 0, fmt.Errorf("store sightings and matches: %w", err)
		}
		if i == first {
			added = tag.RowsAffected()
		}
	}
	if err := res.Close(); err != nil {
		return 0, fmt.Errorf("store sightings and matches: %w", err)
	}
	return added, nil
}

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
