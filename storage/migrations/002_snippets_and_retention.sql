-- Explained matches and a watchlist that reaches the past: each match keeps
-- a snippet around its first hit, items keep their categories, and the text
-- of items that matched nothing is kept for a while so that `wirewatch
-- rematch` can apply a changed watchlist to it.

ALTER TABLE matches ADD COLUMN snippet text NOT NULL DEFAULT '';
COMMENT ON COLUMN matches.snippet IS 'The passage around the first hit, the hit marked ⟦like this⟧.';
COMMENT ON COLUMN matches.found_by IS 'poll, or rematch when a later watchlist found it in retained items.';

ALTER TABLE items ADD COLUMN categories text[] NOT NULL DEFAULT '{}';

CREATE TABLE unmatched_items (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key           text NOT NULL UNIQUE,                -- the same identity as items.key
    feed_id       bigint NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    guid          text NOT NULL DEFAULT '',
    link          text NOT NULL DEFAULT '',
    title         text NOT NULL DEFAULT '',
    summary       text NOT NULL DEFAULT '',            -- plain text, HTML stripped
    content       text NOT NULL DEFAULT '',
    author        text NOT NULL DEFAULT '',
    categories    text[] NOT NULL DEFAULT '{}',
    published_at  timestamptz,
    first_seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX unmatched_items_first_seen_at ON unmatched_items (first_seen_at);

COMMENT ON TABLE unmatched_items IS 'Items that matched no watch entry, kept for retention.unmatched so rematch can search them.';

CREATE OR REPLACE VIEW new_matches AS
SELECT i.id,
       i.title,
       i.link,
       coalesce(nullif(f.name, ''), nullif(f.title, ''), f.url) AS feed,
       string_agg(m.watch, ', ' ORDER BY m.watch)                AS watches,
       i.published_at,
       i.first_seen_at,
       (array_agg(m.snippet ORDER BY m.watch))[1]                AS snippet
FROM items i
JOIN feeds f ON f.id = i.feed_id
JOIN matches m ON m.item_id = i.id
WHERE i.reviewed_at IS NULL
GROUP BY i.id, f.id
ORDER BY i.first_seen_at DESC, i.id DESC;
