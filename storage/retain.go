package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Retained is an item rematch can apply the watchlist to: either one kept
// in unmatched_items (Stored false) or a stored match (Stored true).
type Retained struct {
	ID     int64 // unmatched_items.id or items.id
	FeedID int64
	Stored bool
	Item
}

// CountRetained returns how many kept unmatched items and stored items were
// first seen at or after since.
func (s *Store) CountRetained(ctx context.Context, since time.Time) (unmatched, stored int64, err error) {
	err = s.db.QueryRow(ctx, `SELECT (SELECT coalesce(sum(item_count), 0) FROM unmatched_batches WHERE first_seen_at >= $1),
		(SELECT count(*) FROM items WHERE first_seen_at >= $1)`, since).Scan(&unmatched, &stored)
	if err != nil {
		return 0, 0, fmt.Errorf("count retained items: %w", err)
	}
	return unmatched, stored, nil
}

// RetainedItems returns the items first seen in [since, before) after
// afterID, in id order, a page at a time: stored items when stored is set,
// up to limit of them, with their items.id as ID; else kept unmatched
// items, the whole batches of at least one poll and as many more as fit in
// limit items, with the batch's id as ID. Callers page through by passing
// the last ID back; a zero before means no upper bound.
func (s *Store) RetainedItems(ctx context.Context, since, before time.Time, stored bool, afterID int64, limit int) ([]Retained, error) {
	var until *time.Time
	if !before.IsZero() {
		until = &before
	}
	if !stored {
		return s.keptItems(ctx, since, until, afterID, limit)
	}
	rows, err := s.db.Query(ctx, `
		SELECT id, feed_id, key, guid, link, title, summary, content, author, categories, published_at
		FROM items WHERE first_seen_at >= $1 AND ($4::timestamptz IS NULL OR first_seen_at < $4) AND id > $2
		ORDER BY id LIMIT $3`, since, afterID, limit, until)
	if err != nil {
		return nil, fmt.Errorf("read retained items: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Retained, error) {
		x := Retained{Stored: true}
		err := r.Scan(&x.ID, &x.FeedID, &x.Key, &x.GUID, &x.Link, &x.Title, &x.Summary, &x.Content, &x.Author,
			&x.Categories, &x.PublishedAt)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read retained items: %w", err)
	}
	return out, nil
}

// keptItems reads kept unmatched items, whole batches, for RetainedItems.
func (s *Store) keptItems(ctx context.Context, since time.Time, until *time.Time, afterID int64, limit int) ([]Retained, error) {
	// The running count of items picks the batches that fit; the text of
	// the others is never read.
	rows, err := s.db.Query(ctx, `
		SELECT b.id, b.feed_id, f.url, b.items
		FROM (SELECT id, feed_id, items, sum(item_count) OVER (ORDER BY id) - item_count AS before
		      FROM unmatched_batches
		      WHERE first_seen_at >= $1 AND ($4::timestamptz IS NULL OR first_seen_at < $4) AND id > $2
		      ORDER BY id LIMIT $3) b
		JOIN feeds f ON f.id = b.feed_id
		WHERE b.before < $3
		ORDER BY b.id`, since, afterID, max(limit, 1), until)
	if err != nil {
		return nil, fmt.Errorf("read kept unmatched items: %w", err)
	}
	var out []Retained
	var id, feedID int64
	var url string
	var data []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &feedID, &url, &data}, func() error {
		items, err := decodeKept(data, url)
		if err != nil {
			return fmt.Errorf("batch %d: %w", id, err)
		}
		for _, it := range items {
			out = append(out, Retained{ID: id, FeedID: feedID, Item: it})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read kept unmatched items: %w", err)
	}
	return out, nil
}

// SaveRematch stores what a rematch found, in one transaction: kept
// unmatched items that match now become items (found by rematch, in their
// stories as stories says), and stored items get the matches they did not
// have. A kept item stays kept (rematching it again finds it stored). It
// returns the number of items newly stored and of matches added.
func (s *Store) SaveRematch(ctx context.Context, found []Retained, stories StoryOptions) (newItems int, newMatches int64, err error) {
	// A feed's edited item is kept once per version, oldest first: the
	// last one stands for it.
	type feedKey struct {
		feed int64
		key  string
	}
	last := map[feedKey]int{}
	for i, r := range found {
		if !r.Stored {
			last[feedKey{r.FeedID, r.Key}] = i
		}
	}
	var storedIDs, feeds []int64
	var storedItems, items []Item
	for i, r := range found {
		switch {
		case r.Stored:
			storedIDs = append(storedIDs, r.ID)
			storedItems = append(storedItems, r.Item)
		case last[feedKey{r.FeedID, r.Key}] == i:
			feeds, items = append(feeds, r.FeedID), append(items, r.Item)
		}
	}
	err = s.pipelined(ctx, func(pl *pipeline) error {
		if len(items) == 0 {
			// Only new matches of stored items.
			res, err := pl.send(ctx, true, func(b *pgx.Batch) { queueMatches(b, storedIDs, storedItems, FoundByRematch) })
			if err != nil {
				return err
			}
			defer res.Close()
			tag, err := res.Exec()
			if err != nil {
				return err
			}
			newMatches = tag.RowsAffected()
			return res.Close()
		}
		m, err := s.storeItems(ctx, pl, feeds, items, FoundByRematch, stories, func(b *pgx.Batch, out []itemOutcome) {
			for _, o := range out {
				if o == itemNew {
					newItems++
				}
			}
			if len(storedIDs) > 0 {
				first := len(b.QueuedQueries)
				queueMatches(b, storedIDs, storedItems, FoundByRematch)
				b.QueuedQueries[first].Exec(func(tag pgconn.CommandTag) error {
					newMatches += tag.RowsAffected()
					return nil
				})
			}
		})
		newMatches += m
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("save rematch: %w", err)
	}
	return newItems, newMatches, nil
}

// DeleteUnmatchedBefore deletes kept unmatched items first seen before t, a
// few batches at a time so no lock is held for long, and returns how many
// items went. Matches are never deleted here.
func (s *Store) DeleteUnmatchedBefore(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		var batches, items int64
		err := s.db.QueryRow(ctx, `
			WITH d AS (DELETE FROM unmatched_batches WHERE id IN
			           (SELECT id FROM unmatched_batches WHERE first_seen_at < $1 LIMIT 500)
			           RETURNING item_count)
			SELECT count(*), coalesce(sum(item_count), 0) FROM d`, t).Scan(&batches, &items)
		if err != nil {
			return total, fmt.Errorf("delete old unmatched items: %w", err)
		}
		total += items
		if batches < 500 {
			return total, nil
		}
	}
}

// deleteInBatches runs a DELETE of at most 5,000 rows until it deletes
// fewer, so that a large backlog never holds long locks.
func (s *Store) deleteInBatches(ctx context.Context, sql string, args ...any) (int64, error) {
	var total int64
	for {
		tag, err := s.db.Exec(ctx, sql, args...)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}

// DeletePollsBefore deletes poll records that started before t, in small
// batches so that a large backlog does not hold long locks. Matches, items
// and feeds are not touched.
func (s *Store) DeletePollsBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := s.deleteInBatches(ctx, `DELETE FROM polls WHERE id IN
		(SELECT id FROM polls WHERE started_at < $1 LIMIT 5000)`, t)
	if err != nil {
		return n, fmt.Errorf("delete old poll records: %w", err)
	}
	return n, nil
}
