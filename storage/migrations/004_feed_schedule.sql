-- Each feed's own schedule, kept in the database so that several instances
-- share the work: a poll is due at next_poll_at, an instance claims a due
-- feed with a lease (lease_owner, lease_until) and gives it back when it
-- records the poll. A claim whose instance died runs out and the feed is
-- due again. Servers' wishes are kept too: Retry-After (not_before), 410
-- Gone (gone_at), a permanent redirect seen several polls in a row
-- (fetch_url), and the feed's own minimum interval (ttl_seconds).

ALTER TABLE feeds
    ADD COLUMN next_poll_at          timestamptz,              -- when the next poll is due; NULL: now
    ADD COLUMN poll_interval_seconds integer,                  -- the interval the last poll planned with
    ADD COLUMN not_before            timestamptz,              -- the server asked (Retry-After): no request before, by run or poll
    ADD COLUMN gone_at               timestamptz,              -- answered 410 Gone; checked again weekly
    ADD COLUMN fetch_url             text NOT NULL DEFAULT '', -- where the feed moved (permanent redirects); '' = url
    ADD COLUMN moved_to              text NOT NULL DEFAULT '', -- a permanent redirect seen ...
    ADD COLUMN moved_count           integer NOT NULL DEFAULT 0, -- ... this many polls in a row
    ADD COLUMN ttl_seconds           integer,                  -- the feed's own ttl or sy:updatePeriod
    ADD COLUMN last_unconditional_at timestamptz,              -- last fetch without ETag/Last-Modified
    ADD COLUMN lease_owner           text NOT NULL DEFAULT '', -- the instance polling it now
    ADD COLUMN lease_until           timestamptz;              -- until when that claim holds

CREATE INDEX feeds_due ON feeds (next_poll_at NULLS FIRST) WHERE in_config;

ALTER TABLE polls
    ADD COLUMN due_at        timestamptz,                      -- when the poll was due; started_at - due_at is the lag
    ADD COLUMN redirected_to text NOT NULL DEFAULT '';         -- the feed's new URL, when this poll moved it

-- The health view gains the schedule and the last week's items; the old
-- columns keep their order, so queries written against it still work.
CREATE OR REPLACE VIEW feed_health AS
SELECT f.id,
       coalesce(nullif(f.name, ''), nullif(f.title, ''), f.url) AS feed,
       f.url,
       f.last_outcome,
       f.last_polled_at,
       f.last_success_at,
       f.consecutive_failures,
       f.last_error_kind,
       f.last_error,
       (SELECT count(*) FROM polls p WHERE p.feed_id = f.id AND p.started_at > now() - interval '7 days')
           AS polls_7d,
       (SELECT count(*) FROM polls p WHERE p.feed_id = f.id AND p.started_at > now() - interval '7 days'
           AND p.outcome = 'failed') AS failed_7d,
       (SELECT coalesce(sum(p.new_matches), 0) FROM polls p WHERE p.feed_id = f.id
           AND p.started_at > now() - interval '7 days') AS new_matches_7d,
       (SELECT max(p.started_at) FROM polls p WHERE p.feed_id = f.id AND p.outcome = 'failed') AS last_error_at,
       f.next_poll_at,
       f.poll_interval_seconds,
       f.not_before,
       f.gone_at,
       nullif(f.fetch_url, '') AS moved_to,
       -- new items seen in the last week: the matching ones and, while they
       -- are kept (retention.unmatched), the others
       (SELECT count(*) FROM item_sightings s WHERE s.feed_id = f.id AND s.first_seen_at > now() - interval '7 days')
       + (SELECT count(*) FROM unmatched_items u WHERE u.feed_id = f.id AND u.first_seen_at > now() - interval '7 days')
           AS items_7d
FROM feeds f
WHERE f.in_config
ORDER BY f.consecutive_failures DESC, feed;

CREATE INDEX unmatched_items_feed_id ON unmatched_items (feed_id, first_seen_at);
CREATE INDEX item_sightings_feed_seen ON item_sightings (feed_id, first_seen_at);
