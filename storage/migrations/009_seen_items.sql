-- What each feed carried at its last parsed poll: a digest of every item
-- (8 bytes each, written by ingest with the poll). A feed that changed
-- mostly repeats the items it had; those are neither matched nor written
-- again, only the new and the edited ones. Empty before the first poll,
-- and forgotten when the watchlist changes (the digests include it).

ALTER TABLE feeds ADD COLUMN seen_items bytea NOT NULL DEFAULT '';
