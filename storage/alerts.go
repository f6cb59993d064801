package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// AlertFilter says which matches an alert's digest carries.
type AlertFilter struct {
	Watches      []string // any of these entries (case-insensitive); all when empty
	MinRelevance float64  // leave out items scored below it; unscored items pass
	Limit        int      // at most this many, the oldest first
}

// PendingAlert returns the matches alert has not delivered yet, stored
// since the alert was first seen (registering it now when it is new), the
// oldest first.
func (s *Store) PendingAlert(ctx context.Context, alert string, f AlertFilter) ([]Match, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO alerts (name) VALUES ($1) ON CONFLICT DO NOTHING`, alert); err != nil {
		return nil, fmt.Errorf("register alert %s: %w", alert, err)
	}
	watches := make([]string, len(f.Watches))
	for i, w := range f.Watches {
		watches[i] = strings.ToLower(w)
	}
	rows, err := s.db.Query(ctx, `
		SELECT i.id FROM items i
		WHERE i.first_seen_at >= (SELECT created_at FROM alerts WHERE name = $1)
		  AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert = $1 AND d.item_id = i.id)
		  AND (cardinality($2::text[]) = 0
		       OR EXISTS (SELECT 1 FROM matches m WHERE m.item_id = i.id AND lower(m.watch) = ANY($2)))
		  AND (i.relevance IS NULL OR i.relevance >= $3)
		ORDER BY i.first_seen_at, i.id
		LIMIT $4`, alert, watches, f.MinRelevance, max(f.Limit, 1))
	if err != nil {
		return nil, fmt.Errorf("pending matches of alert %s: %w", alert, err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending matches of alert %s: %w", alert, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ms, err := s.matchesByID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("pending matches of alert %s: %w", alert, err)
	}
	return ms, nil
}

// MarkAlerted records that alert delivered these items.
func (s *Store) MarkAlerted(ctx context.Context, alert string, itemIDs []int64, at time.Time) error {
	if _, err := s.db.Exec(ctx, `INSERT INTO alert_deliveries (alert, item_id, sent_at)
		SELECT $1, unnest($2::bigint[]), $3 ON CONFLICT DO NOTHING`, alert, itemIDs, at); err != nil {
		return fmt.Errorf("record alert %s: %w", alert, err)
	}
	return nil
}

// matchesByID reads the matches a digest shows, in the order of ids; hits
// are left out (the snippets say why).
func (s *Store) matchesByID(ctx context.Context, ids []int64) ([]Match, error) {
	rows, err := s.db.Query(ctx, `
		SELECT i.id, i.title, i.link, f.url, coalesce(nullif(f.name, ''), nullif(f.title, ''), f.url),
		       i.published_at, i.first_seen_at, i.relevance,
		       (SELECT array_agg(m.watch ORDER BY m.watch) FROM matches m WHERE m.item_id = i.id),
		       (SELECT jsonb_object_agg(m.watch, m.snippet) FROM matches m WHERE m.item_id = i.id)
		FROM unnest($1::bigint[]) WITH ORDINALITY AS x(id, ord)
		JOIN items i ON i.id = x.id
		JOIN feeds f ON f.id = i.feed_id
		ORDER BY x.ord`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Match, error) {
		var m Match
		err := r.Scan(&m.ItemID, &m.Title, &m.Link, &m.FeedURL, &m.Feed, &m.PublishedAt, &m.FirstSeenAt, &m.Relevance,
			&m.Watches, &m.Snippets)
		return m, err
	})
}
