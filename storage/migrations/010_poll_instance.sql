-- Which instance made each poll (its host name and process id, as in
-- feeds.lease_owner), so that the share of the work among several instances
-- can be read from the database. Empty for earlier polls.

ALTER TABLE polls ADD COLUMN instance text NOT NULL DEFAULT '';
