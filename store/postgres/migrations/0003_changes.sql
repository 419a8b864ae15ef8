-- The change feed: one row per resource write (PutResource,
-- DeleteResource), written by the store in the write's statement. seq is
-- the write's resource_seq number (a delete takes one too); key '' marks a
-- filler (a number no committed write used). ts is when the change was
-- recorded (the store's clock). No secondary index: rows are read and
-- pruned in seq order.
CREATE TABLE changes (
	seq              BIGINT      NOT NULL PRIMARY KEY,
	key              TEXT COLLATE "C" NOT NULL,
	type_key         TEXT COLLATE "C" NOT NULL,
	subscription_key TEXT COLLATE "C" NOT NULL,
	deleted          BOOLEAN     NOT NULL,
	ts               TIMESTAMPTZ NOT NULL
);
-- A database written before this migration: a filler at the current
-- sequence number, so that the feed starts there and not at a gap.
INSERT INTO changes (seq, key, type_key, subscription_key, deleted, ts)
	SELECT last_value, '', '', '', FALSE, now() FROM resource_seq WHERE is_called;
