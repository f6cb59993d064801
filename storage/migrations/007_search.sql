-- Full-text search over the stored matches, for the review page and the
-- API. Feeds come in many languages, so the text is split into words with
-- the 'simple' configuration: lower-cased, no stemming and no stop words,
-- the same for English, Arabic or Russian. The title weighs most, then the
-- summary, then the content. Only the first characters of each field are
-- indexed, so that no item, however long, can exceed what a tsvector holds
-- (1 MB) and fail the poll that stores it.

ALTER TABLE items ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig, left(title, 1000)), 'A') ||
    setweight(to_tsvector('simple'::regconfig, left(summary, 20000)), 'B') ||
    setweight(to_tsvector('simple'::regconfig, left(content, 50000)), 'C')
) STORED;

COMMENT ON COLUMN items.search IS
    'Words of the title, summary and content (simple configuration): WHERE search @@ websearch_to_tsquery(''simple'', ''haftar tripoli'').';

CREATE INDEX items_search ON items USING gin (search);
