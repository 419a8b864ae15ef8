-- The change feed: one row per resource write (PutResource,
-- DeleteResource), written by the store in the write's transaction. seq is
-- the write's resource_seq number (a delete takes one too); key '' marks a
-- filler (a number no committed write used). ts is when the change was
-- recorded (microseconds, the store's clock). No secondary index: rows
-- are appended in seq order and read and pruned in seq order.
CREATE TABLE changes (
	seq              INTEGER PRIMARY KEY,
	key              TEXT    NOT NULL,
	type_key         TEXT    NOT NULL,
	subscription_key TEXT    NOT NULL,
	deleted          INTEGER NOT NULL,
	ts               INTEGER NOT NULL
);
-- A database written before this migration: a filler at the current
-- sequence number, so that the feed starts there and not at a gap.
INSERT INTO changes (seq, key, type_key, subscription_key, deleted, ts)
	SELECT value, '', '', '', 0, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
	FROM counters WHERE name = 'resource_seq' AND value > 0;
