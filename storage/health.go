package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// FeedHealth is one configured feed's state and its last week, as
// `wirewatch feeds` and the feed_health view show it.
type FeedHealth struct {
	ID                  int64      `json:"id"`
	Name                string     `json:"feed"`
	URL                 string     `json:"url"`
	MovedTo             string     `json:"moved_to,omitempty"`
	LastOutcome         string     `json:"last_outcome"`
	LastPolledAt        *time.Time `json:"last_polled_at"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	LastErrorAt         *time.Time `json:"last_error_at"`
	LastErrorKind       string     `json:"last_error_kind"`
	LastError           string     `json:"last_error"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	NextPollAt          *time.Time `json:"next_poll_at"`
	IntervalSeconds     int        `json:"interval_seconds"`
	NotBefore           *time.Time `json:"not_before"`
	GoneAt              *time.Time `json:"gone_at"`
	Polls7d             int        `json:"polls_7d"`
	Failed7d            int        `json:"failed_7d"`
	Items7d             int        `json:"items_7d"`
	NewMatches7d        int        `json:"new_matches_7d"`
}

// FeedsHealth lists the configured feeds with their health, the longest
// failing first, then by name; only those whose last poll failed (or that
// are gone) when failing is set.
func (s *Store) FeedsHealth(ctx context.Context, failing bool) ([]FeedHealth, error) {
	rows, err := s.db.Query(ctx, `
		SELECT id, feed, url, coalesce(moved_to, ''), last_outcome, last_polled_at, last_success_at, last_error_at,
		       last_error_kind, last_error, consecutive_failures, next_poll_at, coalesce(poll_interval_seconds, 0),
		       not_before, gone_at, polls_7d, failed_7d, items_7d, new_matches_7d
		FROM feed_health
		WHERE NOT $1 OR last_outcome = 'failed' OR gone_at IS NOT NULL
		ORDER BY consecutive_failures DESC, feed, id`, failing)
	if err != nil {
		return nil, fmt.Errorf("read feed health: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FeedHealth, error) {
		var h FeedHealth
		err := r.Scan(&h.ID, &h.Name, &h.URL, &h.MovedTo, &h.LastOutcome, &h.LastPolledAt, &h.LastSuccessAt,
			&h.LastErrorAt, &h.LastErrorKind, &h.LastError, &h.ConsecutiveFailures, &h.NextPollAt,
			&h.IntervalSeconds, &h.NotBefore, &h.GoneAt, &h.Polls7d, &h.Failed7d, &h.Items7d, &h.NewMatches7d)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("read feed health: %w", err)
	}
	return out, nil
}
