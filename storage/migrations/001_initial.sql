-- The first schema: feeds and their polls, matched items and where they were
-- seen, and why they matched. Names are meant to be read in psql.

CREATE TABLE feeds (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url                  text NOT NULL UNIQUE,
    name                 text NOT NULL DEFAULT '',   -- from the config; '' when not given
    title                text NOT NULL DEFAULT '',   -- from the feed itself
    site_url             text NOT NULL DEFAULT '',
    in_config            boolean NOT NULL DEFAULT true, -- false once removed from the config (history stays)
    created_at           timestamptz NOT NULL DEFAULT now(),
    -- State of the last poll. It changes only in the transaction that stores
    -- what that poll found, so a failed store means the next poll fetches the
    -- same content again.
    etag                 text NOT NULL DEFAULT '',
    last_modified        text NOT NULL DEFAULT '',
    body_hash            text NOT NULL DEFAULT '',   -- of the last body parsed; an unchanged body is not parsed again
    last_polled_at       timestamptz,
    last_outcome         text NOT NULL DEFAULT '',   -- ok, not_modified or failed
    last_success_at      timestamptz,
    last_error           text NOT NULL DEFAULT '',
    last_error_kind      text NOT NULL DEFAULT '',
    consecutive_failures integer NOT NULL DEFAULT 0
);

COMMENT ON TABLE feeds IS 'Every feed wirewatch polls or has polled, with the state of its last poll.';

CREATE TABLE polls (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed_id     bigint NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    started_at  timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('ok', 'not_modified', 'failed')),
    http_status integer,                             -- NULL for file feeds and for errors before a response
    bytes       bigint NOT NULL DEFAULT 0,           -- body bytes read
    items_seen  integer NOT NULL DEFAULT 0,          -- items in the feed
    new_matches integer NOT NULL DEFAULT 0,          -- matching items stored for the first time
    error_kind  text NOT NULL DEFAULT '',            -- network, timeout, http, too_large, parse, ...
    error       text NOT NULL DEFAULT ''
);

CREATE INDEX polls_feed_id_started_at ON polls (feed_id, started_at DESC);

COMMENT ON TABLE polls IS 'One row per poll of a feed: when, how it went, what it found.';

CREATE TABLE items (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Identity: the canonical link, or the feed-scoped GUID, or a hash of the
    -- normalized text (see README). One row per article however many feeds
    -- carry it.
    key           text NOT NULL UNIQUE,
    feed_id       bigint NOT NULL REFERENCES feeds (id), -- the feed it was first seen in
    guid          text NOT NULL DEFAULT '',
    link          text NOT NULL DEFAULT '',          -- as published
    title         text NOT NULL DEFAULT '',
    summary       text NOT NULL DEFAULT '',          -- plain text, HTML stripped
    content       text NOT NULL DEFAULT '',          -- plain text, HTML stripped
    author        text NOT NULL DEFAULT '',
    published_at  timestamptz,                       -- as the feed says; NULL when it does not
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    reviewed_at   timestamptz                        -- NULL until an analyst marks it reviewed
);

CREATE INDEX items_first_seen_at ON items (first_seen_at DESC, id DESC);
CREATE INDEX items_unreviewed ON items (first_seen_at DESC, id DESC) WHERE reviewed_at IS NULL;

COMMENT ON TABLE items IS 'Feed items that matched the watchlist, stored once each.';

CREATE TABLE item_sightings (
    item_id       bigint NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    feed_id       bigint NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    guid          text NOT NULL DEFAULT '',          -- the item's GUID in this feed
    link          text NOT NULL DEFAULT '',          -- the item's link in this feed
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, feed_id)
);

CREATE INDEX item_sightings_feed_guid ON item_sightings (feed_id, guid) WHERE guid <> '';

COMMENT ON TABLE item_sightings IS 'Which feeds carried each item.';

CREATE TABLE matches (
    item_id    bigint NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    watch      text NOT NULL,                        -- watchlist entry name
    matched_at timestamptz NOT NULL DEFAULT now(),
    found_by   text NOT NULL DEFAULT 'poll',
    PRIMARY KEY (item_id, watch)
);

CREATE INDEX matches_watch ON matches (lower(watch), item_id);

COMMENT ON TABLE matches IS 'Which watchlist entries each item matched.';

CREATE TABLE match_hits (
    item_id      bigint NOT NULL,
    watch        text NOT NULL,
    term         text NOT NULL,                      -- as written in the watchlist
    field        text NOT NULL,                      -- title, summary or content
    start_offset integer NOT NULL,                   -- first occurrence, in characters of the normalized field
    end_offset   integer NOT NULL,
    occurrences  integer NOT NULL DEFAULT 1,
    PRIMARY KEY (item_id, watch, term, field),
    FOREIGN KEY (item_id, watch) REFERENCES matches (item_id, watch) ON DELETE CASCADE
);

COMMENT ON TABLE match_hits IS 'Why each match happened: the term and the field it was found in.';

-- The everyday question: what matched that nobody has looked at yet?
CREATE VIEW new_matches AS
SELECT i.id,
       i.title,
       i.link,
       coalesce(nullif(f.name, ''), nullif(f.title, ''), f.url) AS feed,
       string_agg(m.watch, ', ' ORDER BY m.watch)                AS watches,
       i.published_at,
       i.first_seen_at
FROM items i
JOIN feeds f ON f.id = i.feed_id
JOIN matches m ON m.item_id = i.id
WHERE i.reviewed_at IS NULL
GROUP BY i.id, f.id
ORDER BY i.first_seen_at DESC, i.id DESC;

-- Which feeds are healthy: the state of each feed and its last week.
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
           AND p.started_at > now() - interval '7 days') AS new_matches_7d
FROM feeds f
WHERE f.in_config
ORDER BY f.consecutive_failures DESC, feed;
