package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// retainUnmatched keeps the text of items that matched nothing, unless they
// are stored as matches already (they matched an earlier watchlist).
func (s *Store) retainUnmatched(ctx context.Context, feedID int64, items []Item) error {
	c := itemColumns(items)
	// An edited item is updated in place, so rematch sees its latest text.
	_, err := s.db.Exec(ctx, `
		INSERT INTO unmatched_items (key, feed_id, guid, link, title, summary, content, author, categories, published_at,
		                             content_hash)
		SELECT key, $1, guid, link, title, summary, content, author, string_to_array(categories, E'\x1f'),
		       published_at, hash
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
		            $9::text[], $10::timestamptz[], $11::text[])
		     AS t(key, guid, link, title, summary, content, author, categories, published_at, hash)
		WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.key = t.key)
		ON CONFLICT (key) DO UPDATE SET title = EXCLUDED.title, summary = EXCLUDED.summary,
		       content = EXCLUDED.content, author = EXCLUDED.author, content_hash = EXCLUDED.content_hash
		WHERE unmatched_items.content_hash <> EXCLUDED.content_hash`,
		feedID, c.key, c.guid, c.link, c.title, c.summary, c.content, c.author, c.categories, c.published, c.hash)
	if err != nil {
		return fmt.Errorf("keep unmatched items: %w", err)
	}
	return nil
}

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
	err = s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM unmatched_items WHERE first_seen_at >= $1),
		(SELECT count(*) FROM items WHERE first_seen_at >= $1)`, since).Scan(&unmatched, &stored)
	if err != nil {
		return 0, 0, fmt.Errorf("count retained items: %w", err)
	}
	return unmatched, stored, nil
}

// RetainedItems returns up to limit items first seen in [since, before)
// with an id above afterID, in id order: kept unmatched items, or stored
// items when stored is set. Callers page through by passing the last id
// back; a zero before means no upper bound.
func (s *Store) RetainedItems(ctx context.Context, since, before time.Time, stored bool, afterID int64, limit int) ([]Retained, error) {
	var until *time.Time
	if !before.IsZero() {
		until = &before
	}
	table := "unmatched_items"
	if stored {
		table = "items"
	}
	rows, err := s.db.Query(ctx, `
		SELECT id, feed_id, key, guid, link, title, summary, content, author, categories, published_at
		FROM `+table+` WHERE first_seen_at >= $1 AND ($4::timestamptz IS NULL OR first_seen_at < $4) AND id > $2
		ORDER BY id LIMIT $3`, since, afterID, limit, until)
	if err != nil {
		return nil, fmt.Errorf("read retained items: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Retained, error) {
		x := Retained{Stored: stored}
		err := r.Scan(&x.ID, &x.FeedID, &x.Key, &x.GUID, &x.Link, &x.Title, &x.Summary, &x.Content, &x.Author,
			&x.Categories, &x.PublishedAt)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read retained items: %w", err)
	}
	return out, nil
}

// SaveRematch stores what a rematch found, in one transaction: kept
// unmatched items that match now become items (found by rematch) and leave
// unmatched_items; stored items get the matches they did not have. It
// returns the number of items newly stored and of matches added.
func (s *Store) SaveRematch(ctx context.Context, found []Retained) (newItems int, newMatches int64, err error) {
	err = s.WithTx(ctx, func(tx *Store) error {
		byFeed := map[int64][]Item{}
		var storedIDs []int64
		var storedItems []Item
		for _, r := range found {
			if r.Stored {
				storedIDs = append(storedIDs, r.ID)
				storedItems = append(storedItems, r.Item)
			} else {
				byFeed[r.FeedID] = append(byFeed[r.FeedID], r.Item)
			}
		}
		for feedID, items := range byFeed {
			saved, m, err := tx.storeItems(ctx, feedID, items, FoundByRematch)
			if err != nil {
				return err
			}
			newItems += saved.NewItems
			newMatches += m
		}
		if len(storedIDs) > 0 {
			m, err := tx.insertMatches(ctx, &pgx.Batch{}, storedIDs, storedItems, FoundByRematch)
			if err != nil {
				return err
			}
			newMatches += m
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("save rematch: %w", err)
	}
	return newItems, newMatches, nil
}

// DeleteUnmatchedBefore deletes kept unmatched items first seen before t, a
// batch at a time so no lock is held for long, and returns how many went.
// Matches are never deleted here.
func (s *Store) DeleteUnmatchedBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := s.deleteInBatches(ctx, `DELETE FROM unmatched_items WHERE id IN
		(SELECT id FROM unmatched_items WHERE first_seen_at < $1 LIMIT 5000)`, t)
	if err != nil {
		return n, fmt.Errorf("delete old unmatched items: %w", err)
	}
	return n, nil
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
