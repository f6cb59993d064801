package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Several instances share the feeds through these claims. An instance
// claims a due feed by writing its name and a lease into the feed's row
// (FOR UPDATE SKIP LOCKED, so two instances never claim one feed), renews
// the lease while the poll runs, and SavePoll gives the feed back with its
// next due time. If the instance dies, its lease runs out and any instance
// may claim the feed again: PostgreSQL is the only coordinator.

// ClaimDue claims, for owner and until lease from now, up to limit of the
// feeds that are due at now: in the configuration, due by their own
// schedule, not asked by their server to wait, not claimed by anyone else,
// and not in skip (feeds this instance does not know, configured by
// another instance with a newer configuration). The most overdue come
// first.
func (s *Store) ClaimDue(ctx context.Context, owner string, skip []int64, limit int, now time.Time, lease time.Duration) ([]Feed, error) {
	// The due test is a range of the feeds_due index (migration 008), so
	// only due feeds are read, whatever the number of feeds.
	rows, err := s.db.Query(ctx, `
		UPDATE feeds f SET lease_owner = $1, lease_until = clock_timestamp() + make_interval(secs => $5)
		FROM (SELECT id AS due_id FROM feeds
		      WHERE in_config AND coalesce(next_poll_at, '-infinity'::timestamptz) <= $4
		        AND coalesce(not_before, '-infinity') <= $4
		        AND coalesce(lease_until, '-infinity') < clock_timestamp()
		        AND coalesce(id <> ALL($2::bigint[]), true)
		      ORDER BY coalesce(next_poll_at, '-infinity'::timestamptz), id
		      LIMIT $3
		      FOR UPDATE SKIP LOCKED) due
		WHERE f.id = due.due_id
		RETURNING `+feedColumns, owner, skip, limit, now, lease.Seconds())
	if err != nil {
		return nil, fmt.Errorf("claim due feeds: %w", err)
	}
	feeds, err := collectFeeds(rows)
	if err != nil {
		return nil, fmt.Errorf("claim due feeds: %w", err)
	}
	return feeds, nil
}

// Why a feed could not be claimed for a poll out of schedule.
const (
	RefusedClaimed   = "claimed"     // another instance is polling it
	RefusedRetry     = "retry_after" // its server asked not to be asked before a time
	RefusedGone      = "gone"        // it answered 410 Gone, and is not due for its weekly check
	RefusedNotConfig = "not_configured"
)

// ClaimMany claims feeds for a poll now, whatever their schedule (a
// one-off `wirewatch poll`), unless another instance holds them, their
// server asked for a pause (Retry-After) that has not ended, or they are
// gone and not due. It takes two statements whatever their number, and
// returns the claimed feeds and why each of the others was refused.
func (s *Store) ClaimMany(ctx context.Context, owner string, ids []int64, now time.Time, lease time.Duration) ([]Feed, map[int64]string, error) {
	rows, err := s.db.Query(ctx, `
		UPDATE feeds SET lease_owner = $2, lease_until = clock_timestamp() + make_interval(secs => $3)
		WHERE id = ANY($1) AND in_config
		  AND coalesce(lease_until, '-infinity') < clock_timestamp()
		  AND coalesce(not_before, '-infinity') <= $4
		  AND NOT (gone_at IS NOT NULL AND coalesce(next_poll_at, '-infinity') > $4)
		RETURNING `+feedColumns, ids, owner, lease.Seconds(), now)
	if err != nil {
		return nil, nil, fmt.Errorf("claim feeds: %w", err)
	}
	feeds, err := collectFeeds(rows)
	if err != nil {
		return nil, nil, fmt.Errorf("claim feeds: %w", err)
	}
	if len(feeds) == len(ids) {
		return feeds, nil, nil
	}
	claimed := make([]int64, len(feeds))
	for i, f := range feeds {
		claimed[i] = f.ID
	}
	rows, err = s.db.Query(ctx, `
		SELECT id, CASE
			WHEN NOT in_config THEN $3
			WHEN coalesce(lease_until, '-infinity') >= clock_timestamp() THEN $4
			WHEN coalesce(not_before, '-infinity') > $7 THEN $5
			WHEN gone_at IS NOT NULL THEN $6
			ELSE $4 END
		FROM feeds WHERE id = ANY($1) AND id <> ALL($2)`,
		ids, claimed, RefusedNotConfig, RefusedClaimed, RefusedRetry, RefusedGone, now)
	if err != nil {
		return nil, nil, fmt.Errorf("claim feeds: %w", err)
	}
	refused := map[int64]string{}
	var id int64
	var why string
	if _, err := pgx.ForEachRow(rows, []any{&id, &why}, func() error {
		refused[id] = why
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("claim feeds: %w", err)
	}
	return feeds, refused, nil
}

// RenewLeases extends owner's claims on ids, for polls still running.
func (s *Store) RenewLeases(ctx context.Context, owner string, ids []int64, lease time.Duration) error {
	if _, err := s.db.Exec(ctx, `UPDATE feeds SET lease_until = clock_timestamp() + make_interval(secs => $3)
		WHERE lease_owner = $1 AND id = ANY($2)`, owner, ids, lease.Seconds()); err != nil {
		return fmt.Errorf("renew leases: %w", err)
	}
	return nil
}

// ReleaseLeases gives back owner's claims on ids without a poll (a
// shutdown): the feeds keep their due time and any instance may take them.
// Nil ids releases all of owner's claims.
func (s *Store) ReleaseLeases(ctx context.Context, owner string, ids []int64) error {
	if _, err := s.db.Exec(ctx, `UPDATE feeds SET lease_owner = '', lease_until = NULL
		WHERE lease_owner = $1 AND ($2::bigint[] IS NULL OR id = ANY($2))`, owner, ids); err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	return nil
}

// LeaseOwners lists the instances holding claims now.
func (s *Store) LeaseOwners(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT lease_owner FROM feeds WHERE lease_owner <> '' AND lease_until > clock_timestamp()`)
	if err != nil {
		return nil, fmt.Errorf("list lease owners: %w", err)
	}
	owners, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list lease owners: %w", err)
	}
	return owners, nil
}
