package storage

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wirewatch/wirewatch/classify"
)

// MatchFilter selects stored matches.
type MatchFilter struct {
	Since      time.Time // first seen at or after; zero for no bound
	Watches    []string  // any of these entries (case-insensitive); empty for all
	Unreviewed bool      // only items not yet marked reviewed
	Reviewed   bool      // only items marked reviewed (with Unreviewed: nothing)
	// Feed keeps the items a feed carried (first or as a copy): the feed's
	// URL, or its name as listed (case-insensitive); "" for all.
	Feed string
	// Query keeps the items whose title, summary or content hold these
	// words, in the syntax of PostgreSQL's websearch_to_tsquery: words that
	// must all occur, "a phrase", OR between alternatives, -word to exclude.
	// Words are compared whole and lower-cased, in any language; "" for all.
	Query string
	Limit int // 0 for no limit
	// ByRelevance lists the most relevant to the reference articles first
	// (items without a score last), then the newest.
	ByRelevance bool
}

// Match is a stored matching item with why it matched.
type Match struct {
	ItemID      int64             `json:"id"`
	Title       string            `json:"title"`
	Link        string            `json:"link"`
	FeedURL     string            `json:"feed_url"`
	Feed        string            `json:"feed"`
	PublishedAt *time.Time        `json:"published_at"`
	FirstSeenAt time.Time         `json:"first_seen_at"`
	ReviewedAt  *time.Time        `json:"reviewed_at"`
	Watches     []string          `json:"watches"`
	Hits        []classify.Hit    `json:"hits"`
	Snippets    map[string]string `json:"snippets"`  // by watch entry, the hit marked ⟦like this⟧
	FoundBy     string            `json:"found_by"`  // poll, or rematch
	Relevance   *float64          `json:"relevance"` // to the reference articles, 0 to about 1; null without any
}

// Matches lists stored matches, newest first (by when they were first seen,
// then by publication time), or the most relevant first.
func (s *Store) Matches(ctx context.Context, f MatchFilter) ([]Match, error) {
	since, watches, limit := matchFilterArgs(f)
	rows, err := s.db.Query(ctx, `
		SELECT i.id, i.title, i.link, f.url, coalesce(nullif(f.name, ''), nullif(f.title, ''), f.url),
		       i.published_at, i.first_seen_at, i.reviewed_at,
		       (SELECT array_agg(m.watch ORDER BY m.watch) FROM matches m WHERE m.item_id = i.id),
		       (SELECT jsonb_agg(jsonb_build_object('watch', h.watch, 'term', h.term, 'field', h.field,
		                         'start', h.start_offset, 'end', h.end_offset, 'count', h.occurrences)
		                         ORDER BY h.watch, h.field, h.start_offset)
		          FROM match_hits h WHERE h.item_id = i.id),
		       (SELECT jsonb_object_agg(m.watch, m.snippet) FROM matches m WHERE m.item_id = i.id),
		       (SELECT m.found_by FROM matches m WHERE m.item_id = i.id ORDER BY m.matched_at, m.watch LIMIT 1),
		       i.relevance
		FROM items i
		JOIN feeds f ON f.id = i.feed_id
		WHERE ($1::timestamptz IS NULL OR i.first_seen_at >= $1)
		  AND (NOT $2 OR i.reviewed_at IS NULL)
		  AND (cardinality($3::text[]) = 0
		       OR EXISTS (SELECT 1 FROM matches m WHERE m.item_id = i.id AND lower(m.watch) = ANY($3)))
		  AND (NOT $6 OR i.reviewed_at IS NOT NULL)
		  AND ($7 = '' OR `+carriedBy("i", "$7")+`)
		  AND ($8 = '' OR i.search @@ websearch_to_tsquery('simple', $8))
		ORDER BY CASE WHEN $5 THEN i.relevance END DESC NULLS LAST,
		         i.first_seen_at DESC, i.published_at DESC NULLS LAST, i.id DESC
		LIMIT $4`, since, f.Unreviewed, watches, limit, f.ByRelevance,
		f.Reviewed, strings.TrimSpace(f.Feed), strings.TrimSpace(f.Query))
	if err != nil {
		return nil, fmt.Errorf("list matches: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Match, error) {
		var m Match
		err := r.Scan(&m.ItemID, &m.Title, &m.Link, &m.FeedURL, &m.Feed, &m.PublishedAt, &m.FirstSeenAt,
			&m.ReviewedAt, &m.Watches, &m.Hits, &m.Snippets, &m.FoundBy, &m.Relevance)
		if m.Relevance != nil {
			// Stored as real: keep the digits it has, not float32's noise.
			r := math.Round(*m.Relevance*10000) / 10000
			m.Relevance = &r
		}
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("list matches: %w", err)
	}
	return out, nil
}

// matchFilterArgs turns a filter into query arguments: NULL for no bound.
func matchFilterArgs(f MatchFilter) (since *time.Time, watches []string, limit *int) {
	if !f.Since.IsZero() {
		since = &f.Since
	}
	watches = make([]string, len(f.Watches))
	for i, w := range f.Watches {
		watches[i] = strings.ToLower(w)
	}
	if f.Limit > 0 {
		limit = &f.Limit
	}
	return since, watches, limit
}

// carriedBy is the condition that the item aliased item was seen in the
// feed named by param: its URL, or its name as listed (case-insensitive).
func carriedBy(item, param string) string {
	return `EXISTS (SELECT 1 FROM item_sightings sg JOIN feeds f ON f.id = sg.feed_id
		WHERE sg.item_id = ` + item + `.id
		  AND (f.url = ` + param + ` OR lower(coalesce(nullif(f.name, ''), nullif(f.title, ''), f.url)) = lower(` + param + `)))`
}

// MarkReviewed marks items reviewed and returns how many were not already.
func (s *Store) MarkReviewed(ctx context.Context, itemIDs []int64) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE items SET reviewed_at = now() WHERE id = ANY($1::bigint[]) AND reviewed_at IS NULL`, itemIDs)
	if err != nil {
		return 0, fmt.Errorf("mark reviewed: %w", err)
	}
	return tag.RowsAffected(), nil
}
