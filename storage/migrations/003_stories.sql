-- One story, many outlets. Items carry a MinHash signature and its LSH band
-- keys (a GIN index finds the items that share a band); near-duplicates are
-- grouped into stories, whose origin is the first item seen. Items edited
-- by their feed are updated in place and counted.

CREATE TABLE stories (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    origin_item_id bigint NOT NULL UNIQUE,           -- the first copy seen
    created_at     timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE stories IS 'Copies of one story in several outlets. Title, outlets and times are read from its items.';

ALTER TABLE items
    ADD COLUMN story_id     bigint REFERENCES stories (id),
    ADD COLUMN content_hash text NOT NULL DEFAULT '',  -- of title and text, to notice edits
    ADD COLUMN revisions    integer NOT NULL DEFAULT 0, -- times the feed changed the item after it was stored
    ADD COLUMN updated_at   timestamptz,
    ADD COLUMN signature    bytea,                      -- MinHash of the text's word 3-shingles
    ADD COLUMN bands        bigint[];                   -- LSH band keys of the signature

ALTER TABLE stories ADD FOREIGN KEY (origin_item_id) REFERENCES items (id) ON DELETE CASCADE;

-- fastupdate off: a pending list would be scanned in full by every lookup,
-- and lookups happen on every poll that stores something.
CREATE INDEX items_bands ON items USING gin (bands) WITH (fastupdate = off);
CREATE INDEX items_story_id ON items (story_id);
CREATE INDEX items_unassigned ON items (id) WHERE story_id IS NULL;

ALTER TABLE unmatched_items ADD COLUMN content_hash text NOT NULL DEFAULT '';
ALTER TABLE polls ADD COLUMN items_updated integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN polls.items_updated IS 'Stored items whose title or text the feed changed.';

-- Stories with something not yet reviewed: the origin's title, the outlets
-- that carried it, when it was first and last seen.
CREATE VIEW new_stories AS
SELECT s.id,
       o.title,
       count(DISTINCT sg.feed_id)                                         AS outlets_count,
       string_agg(DISTINCT coalesce(nullif(f.name, ''), nullif(f.title, ''), f.url), ', ') AS outlets,
       count(DISTINCT i.id)                                               AS items,
       min(i.first_seen_at)                                               AS first_seen_at,
       max(i.first_seen_at)                                               AS last_seen_at,
       o.link
FROM stories s
JOIN items o ON o.id = s.origin_item_id
JOIN items i ON i.story_id = s.id
JOIN item_sightings sg ON sg.item_id = i.id
JOIN feeds f ON f.id = sg.feed_id
GROUP BY s.id, o.id
HAVING bool_or(i.reviewed_at IS NULL)
ORDER BY max(i.first_seen_at) DESC, s.id DESC;
