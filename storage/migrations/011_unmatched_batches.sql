-- The items that matched nothing are nearly all the items a poll reads, and
-- kept one row each they cost more to write than everything else a poll
-- stores: a row, a key and four indexes per item, for text that is only
-- ever read back by rematch. They are now kept as one row per poll: the
-- items of that poll as a JSON array, compressed by the server (lz4 where
-- it has it). The old table becomes a view over the new one, so that psql
-- queries against unmatched_items keep working.

CREATE TABLE unmatched_batches (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed_id       bigint NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    item_count    integer NOT NULL,
    -- [{"guid", "link", "title", "summary", "content", "author",
    --   "categories", "published_at"}, ...]: text as in items, HTML stripped
    items         text NOT NULL
);

COMMENT ON TABLE unmatched_batches IS
    'Items that matched no watch entry, one row per poll, kept for retention.unmatched so rematch can search them. Read them through the unmatched_items view.';

DO $$
BEGIN
    ALTER TABLE unmatched_batches ALTER COLUMN items SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL; -- a server built without lz4 compresses with pglz, its default
END
$$;

CREATE INDEX unmatched_batches_first_seen_at ON unmatched_batches (first_seen_at);
CREATE INDEX unmatched_batches_feed_id ON unmatched_batches (feed_id, first_seen_at);

-- What was kept so far moves over: the items each poll kept share their
-- feed and their first_seen_at (the time of the poll's transaction).
INSERT INTO unmatched_batches (feed_id, first_seen_at, item_count, items)
SELECT feed_id, first_seen_at, count(*),
       json_agg(json_strip_nulls(json_build_object(
           'guid', guid, 'link', link, 'title', title, 'summary', summary, 'content', content,
           'author', author, 'categories', categories, 'published_at', published_at)) ORDER BY id)::text
FROM unmatched_items
GROUP BY feed_id, first_seen_at
ORDER BY min(id);

DROP VIEW feed_health;
DROP TABLE unmatched_items;

CREATE VIEW unmatched_items AS
SELECT b.id AS batch_id,
       b.feed_id,
       b.first_seen_at,
       coalesce(t.guid, '')       AS guid,
       coalesce(t.link, '')       AS link,
       coalesce(t.title, '')      AS title,
       coalesce(t.summary, '')    AS summary,
       coalesce(t.content, '')    AS content,
       coalesce(t.author, '')     AS author,
       coalesce(t.categories, '{}') AS categories,
       t.published_at
FROM unmatched_batches b
CROSS JOIN LATERAL json_to_recordset(b.items::json) AS t(guid text, link text, title text, summary text,
    content text, author text, categories text[], published_at timestamptz);

COMMENT ON VIEW unmatched_items IS
    'Each kept unmatched item as a row (reads and unpacks unmatched_batches: filter on feed_id or first_seen_at first).';

-- As in 004, with the kept items counted from their batches.
CREATE VIEW feed_health AS
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
       + (SELECT coalesce(sum(b.item_count), 0) FROM unmatched_batches b WHERE b.feed_id = f.id
           AND b.first_seen_at > now() - interval '7 days')
           AS items_7d
FROM feeds f
WHERE f.in_config
ORDER BY f.consecutive_failures DESC, feed;
