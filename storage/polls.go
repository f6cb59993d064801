package storage

import (
	"context"
	"fmt"
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

	// Items are the matching items to store.
	Items []Item
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
	PublishedAt *time.Time
	Watches     []string
	Hits        []classify.Hit
}

// SavePoll stores a poll in one transaction: the matching items (each once,
// with the feed recorded as a sighting), their matches and hits, the poll
// record and the feed's new state. If anything fails nothing is written, and
// the feed's ETag and body hash stay as they were, so the next poll fetches
// and stores the same items again. It returns the number of items stored for
// the first time.
func (s *Store) SavePoll(ctx context.Context, p Poll) (newItems int, err error) {
	err = s.WithTx(ctx, func(tx *Store) error {
		if len(p.Items) > 0 {
			if newItems, err = tx.storeItems(ctx, p.FeedID, p.Items); err != nil {
				return err
			}
		}
		var status *int
		if p.HTTPStatus != 0 {
			status = &p.HTTPStatus
		}
		b := &pgx.Batch{}
		b.Queue(`
			INSERT INTO polls (feed_id, started_at, duration_ms, outcome, http_status, bytes, items_seen,
			                   new_matches, error_kind, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			p.FeedID, p.StartedAt, p.Duration.Milliseconds(), p.Outcome, status, p.Bytes, p.ItemsSeen,
			newItems, p.ErrorKind, p.Error)
		b.Queue(`
			UPDATE feeds SET
				last_polled_at       = $2,
				last_outcome         = $3,
				last_success_at      = CASE WHEN $3 = 'failed' THEN last_success_at ELSE $2 END,
				consecutive_failures = CASE WHEN $3 = 'failed' THEN consecutive_failures + 1 ELSE 0 END,
				last_error           = CASE WHEN $3 = 'failed' THEN $4 ELSE '' END,
				last_error_kind      = CASE WHEN $3 = 'failed' THEN $5 ELSE '' END,
				etag                 = CASE WHEN $3 = 'ok' THEN $6 ELSE etag END,
				last_modified        = CASE WHEN $3 = 'ok' THEN $7 ELSE last_modified END,
				body_hash            = CASE WHEN $3 = 'ok' THEN $8 ELSE body_hash END,
				title                = CASE WHEN $3 = 'ok' AND $9 <> '' THEN $9 ELSE title END,
				site_url             = CASE WHEN $3 = 'ok' AND $10 <> '' THEN $10 ELSE site_url END
			WHERE id = $1`,
			p.FeedID, p.StartedAt, p.Outcome, p.Error, p.ErrorKind, p.ETag, p.LastModified, p.BodyHash,
			p.FeedTitle, p.SiteURL)
		if err := tx.db.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("record poll: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("save poll of feed %d: %w", p.FeedID, err)
	}
	return newItems, nil
}

// storeItems writes items (already deduplicated by key) seen in one feed.
// An item is known when this feed carried its GUID before or when its key is
// stored; unknown items are inserted, and every item gets its sighting,
// matches and hits, each written only if missing.
func (s *Store) storeItems(ctx context.Context, feedID int64, items []Item) (int, error) {
	keys := make([]string, len(items))
	guids := make([]string, len(items))
	for i, it := range items {
		keys[i], guids[i] = it.Key, it.GUID
	}
	ids := make([]int64, len(items))
	rows, err := s.db.Query(ctx, `
		SELECT k.ord, coalesce(
			(SELECT s.item_id FROM item_sightings s WHERE s.feed_id = $1 AND s.guid = k.guid AND k.guid <> '' LIMIT 1),
			(SELECT i.id FROM items i WHERE i.key = k.key), 0)
		FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS k(key, guid, ord)`, feedID, keys, guids)
	if err != nil {
		return 0, fmt.Errorf("look up items: %w", err)
	}
	var ord, id int64
	if _, err := pgx.ForEachRow(rows, []any{&ord, &id}, func() error {
		ids[ord-1] = id
		return nil
	}); err != nil {
		return 0, fmt.Errorf("look up items: %w", err)
	}

	// Insert the unknown ones. ON CONFLICT covers an instance that stored the
	// same key a moment ago.
	var fresh []int
	for i, id := range ids {
		if id == 0 {
			fresh = append(fresh, i)
		}
	}
	newItems := 0
	if len(fresh) > 0 {
		var in struct {
			key, guid, link, title, summary, content, author []string
			published                                        []*time.Time
		}
		for _, i := range fresh {
			it := items[i]
			in.key = append(in.key, it.Key)
			in.guid = append(in.guid, it.GUID)
			in.link = append(in.link, it.Link)
			in.title = append(in.title, it.Title)
			in.summary = append(in.summary, it.Summary)
			in.content = append(in.content, it.Content)
			in.author = append(in.author, it.Author)
			in.published = append(in.published, it.PublishedAt)
		}
		rows, err := s.db.Query(ctx, `
			INSERT INTO items (key, feed_id, guid, link, title, summary, content, author, published_at)
			SELECT key, $1, guid, link, title, summary, content, author, published_at
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			            $9::timestamptz[])
			     AS t(key, guid, link, title, summary, content, author, published_at)
			ON CONFLICT (key) DO NOTHING
			RETURNING key, id`,
			feedID, in.key, in.guid, in.link, in.title, in.summary, in.content, in.author, in.published)
		if err != nil {
			return 0, fmt.Errorf("insert items: %w", err)
		}
		byKey := map[string]int64{}
		var key string
		if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error {
			byKey[key] = id
			return nil
		}); err != nil {
			return 0, fmt.Errorf("insert items: %w", err)
		}
		newItems = len(byKey)
		var raced []string
		for _, i := range fresh {
			if id, ok := byKey[items[i].Key]; ok {
				ids[i] = id
			} else {
				raced = append(raced, items[i].Key)
			}
		}
		if len(raced) > 0 {
			rows, err := s.db.Query(ctx, `SELECT key, id FROM items WHERE key = ANY($1::text[])`, raced)
			if err != nil {
				return 0, fmt.Errorf("look up items: %w", err)
			}
			if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error {
				byKey[key] = id
				return nil
			}); err != nil {
				return 0, fmt.Errorf("look up items: %w", err)
			}
			for _, i := range fresh {
				ids[i] = byKey[items[i].Key]
			}
		}
	}

	var sight struct {
		item         []int64
		guid, link   []string
		mItem        []int64
		mWatch       []string
		hItem        []int64
		hWatch       []string
		hTerm        []string
		hField       []string
		hStart, hEnd []int32
		hCount       []int32
	}
	for i, it := range items {
		sight.item = append(sight.item, ids[i])
		sight.guid = append(sight.guid, it.GUID)
		sight.link = append(sight.link, it.Link)
		for _, w := range it.Watches {
			sight.mItem = append(sight.mItem, ids[i])
			sight.mWatch = append(sight.mWatch, w)
		}
		for _, h := range it.Hits {
			sight.hItem = append(sight.hItem, ids[i])
			sight.hWatch = append(sight.hWatch, h.Watch)
			sight.hTerm = append(sight.hTerm, h.Term)
			sight.hField = append(sight.hField, h.Field)
			sight.hStart = append(sight.hStart, int32(h.Start))
			sight.hEnd = append(sight.hEnd, int32(h.End))
			sight.hCount = append(sight.hCount, int32(h.Count))
		}
	}
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO item_sightings (item_id, feed_id, guid, link)
		SELECT item_id, $1, guid, link FROM unnest($2::bigint[], $3::text[], $4::text[]) AS t(item_id, guid, link)
		ON CONFLICT DO NOTHING`, feedID, sight.item, sight.guid, sight.link)
	b.Queue(`
		INSERT INTO matches (item_id, watch)
		SELECT * FROM unnest($1::bigint[], $2::text[])
		ON CONFLICT DO NOTHING`, sight.mItem, sight.mWatch)
	b.Queue(`
		INSERT INTO match_hits (item_id, watch, term, field, start_offset, end_offset, occurrences)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[])
		ON CONFLICT DO NOTHING`,
		sight.hItem, sight.hWatch, sight.hTerm, sight.hField, sight.hStart, sight.hEnd, sight.hCount)
	if err := s.db.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("store sightings and matches: %w", err)
	}
	return newItems, nil
}
