package storage_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// BenchmarkSaveMatches measures storing the new matches of a poll, the way
// SavePoll does (the whole poll in a handful of statements sent in two
// round trips, rows sent as arrays), beside the plain way: one statement
// per row (the item, its story, its sighting, each match and each hit), in
// one transaction per poll too. Each new item is put in a story either way:
// SavePoll weighs the candidates that share a band, the plain way joins the
// first. Polls carry 2 new matches (a feed of 50 items where 3% match, as in
// the bench farm) or 50 (a feed all about the story). The figure is new
// matches stored per second (see BenchmarkStoreNewItems for how it holds
// as the store grows).
//
//	make bench   (or: go test -run XXX -bench SaveMatches ./storage)
func BenchmarkSaveMatches(b *testing.B) {
	for _, perPoll := range []int{2, 50} {
		for _, way := range []string{"batched", "row-by-row"} {
			b.Run(fmt.Sprintf("%s/per-poll=%d", way, perPoll), func(b *testing.B) {
				ctx := context.Background()
				_, pool := storagetest.MigratedSchema(b)
				s := storage.New(pool)
				feeds, err := s.SyncFeeds(ctx, []storage.FeedSpec{{URL: "https://bench.example/feed"}})
				if err != nil {
					b.Fatal(err)
				}
				r := rand.New(rand.NewPCG(uint64(perPoll), 11))
				round := 0
				for b.Loop() {
					b.StopTimer()
					poll := storage.Poll{FeedID: feeds[0].ID, StartedAt: time.Now(), Outcome: storage.OutcomeOK,
						HTTPStatus: 200, ItemsSeen: 50, Items: newBenchItems(r, round, perPoll), ETag: fmt.Sprint(round)}
					round++
					b.StartTimer()
					if way == "batched" {
						_, err = s.SavePoll(ctx, poll)
					} else {
						err = saveRowByRow(ctx, pool, poll)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*perPoll)/b.Elapsed().Seconds(), "matches/s")
			})
		}
	}
}

// saveRowByRow stores a poll's new items with one statement per row, as
// a straightforward implementation would.
func saveRowByRow(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, p storage.Poll) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, it := range p.Items {
		bands := make([]string, len(it.Bands))
		for k, v := range it.Bands {
			bands[k] = fmt.Sprint(v)
		}
		categories := it.Categories
		if categories == nil {
			categories = []string{}
		}
		lit := "{" + strings.Join(bands, ",") + "}"
		var story *int64
		err := tx.QueryRow(ctx, `SELECT story_id FROM items WHERE bands && $1::bigint[] AND story_id IS NOT NULL LIMIT 1`,
			lit).Scan(&story)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("find story: %w", err)
		}
		var id int64
		err = tx.QueryRow(ctx, `
			INSERT INTO items (key, feed_id, guid, link, title, summary, content, author, categories, published_at,
			                   content_hash, signature, bands, relevance, story_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::bigint[], $14, $15)
			ON CONFLICT (key) DO NOTHING
			RETURNING id`,
			it.Key, p.FeedID, it.GUID, it.Link, it.Title, it.Summary, it.Content, it.Author, categories,
			it.PublishedAt, it.ContentHash, it.Signature, lit, it.Relevance, story).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert item: %w", err)
		}
		if story == nil {
			if _, err := tx.Exec(ctx, `WITH s AS (INSERT INTO stories (origin_item_id) VALUES ($1) RETURNING id)
				UPDATE items SET story_id = s.id FROM s WHERE items.id = $1`, id); err != nil {
				return fmt.Errorf("start story: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO item_sightings (item_id, feed_id, guid, link) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, id, p.FeedID, it.GUID, it.Link); err != nil {
			return fmt.Errorf("insert sighting: %w", err)
		}
		for _, w := range it.Watches {
			if _, err := tx.Exec(ctx, `INSERT INTO matches (item_id, watch, snippet, found_by) VALUES ($1, $2, $3, 'poll')
				ON CONFLICT DO NOTHING`, id, w, it.Snippets[w]); err != nil {
				return fmt.Errorf("insert match: %w", err)
			}
		}
		for _, h := range it.Hits {
			if _, err := tx.Exec(ctx, `INSERT INTO match_hits (item_id, watch, term, field, start_offset, end_offset, occurrences)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
				id, h.Watch, h.Term, h.Field, h.Start, h.End, h.Count); err != nil {
				return fmt.Errorf("insert hit: %w", err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO polls (feed_id, started_at, duration_ms, outcome, http_status, items_seen, new_matches)
		VALUES ($1, $2, 0, $3, $4, $5, $6)`, p.FeedID, p.StartedAt, p.Outcome, p.HTTPStatus, p.ItemsSeen, len(p.Items)); err != nil {
		return fmt.Errorf("insert poll: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE feeds SET last_polled_at = $2, last_outcome = $3, last_success_at = $2, etag = $4,
		lease_owner = '', lease_until = NULL WHERE id = $1`, p.FeedID, p.StartedAt, p.Outcome, p.ETag); err != nil {
		return fmt.Errorf("update feed: %w", err)
	}
	return tx.Commit(ctx)
}
