-- Reference articles: the texts that define the story an analyst follows.
-- Each is kept with its weighted terms (its model, computed against the
-- stored items when it is added), and every matching item carries its
-- relevance to them: 0 to about 1, NULL while there is no reference.

CREATE TABLE reference_articles (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title    text NOT NULL,
    url      text NOT NULL DEFAULT '',
    body     text NOT NULL,                     -- plain text
    model    jsonb NOT NULL DEFAULT '{}',       -- weighted terms (see README, Relevance)
    added_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE reference_articles IS 'Articles that define the story followed; matches are ranked by their relevance to them.';

ALTER TABLE items ADD COLUMN relevance real;    -- to the reference articles; NULL without any

CREATE INDEX items_relevance ON items (relevance DESC NULLS LAST, first_seen_at DESC);
