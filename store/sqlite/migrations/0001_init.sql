-- Initial schema. Timestamps are INTEGER microseconds since the Unix
-- epoch, UTC. Keys compare byte-wise (BINARY collation).

-- counters holds store-wide sequences; resource_seq numbers every
-- resource write (Resource.Seq).
CREATE TABLE counters (
	name  TEXT    NOT NULL PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('resource_seq', 0);

CREATE TABLE resources (
	key                TEXT    NOT NULL PRIMARY KEY,
	id                 TEXT    NOT NULL,
	parent_key         TEXT    NOT NULL,
	type_key           TEXT    NOT NULL,
	subscription_key   TEXT    NOT NULL,
	resource_group_key TEXT    NOT NULL,
	body               BLOB    NOT NULL,
	etag               TEXT    NOT NULL,
	seq                INTEGER NOT NULL,
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL
);
-- The primary key serves lookups and key-prefix range scans; each filter
-- index carries key so that filtered lists come out in key order.
CREATE INDEX resources_parent         ON resources (parent_key, key);
CREATE INDEX resources_type           ON resources (type_key, key);
CREATE INDEX resources_subscription   ON resources (subscription_key, key);
CREATE INDEX resources_resource_group ON resources (resource_group_key, key);
CREATE UNIQUE INDEX resources_seq     ON resources (seq);

CREATE TABLE events (
	seq              INTEGER PRIMARY KEY AUTOINCREMENT,
	id               TEXT    NOT NULL UNIQUE,
	subscription_key TEXT    NOT NULL,
	ts               INTEGER NOT NULL,
	resource_group   TEXT    NOT NULL,
	resource_key     TEXT    NOT NULL,
	correlation_id   TEXT    NOT NULL,
	operation_id     TEXT    NOT NULL,
	body             BLOB    NOT NULL
);
CREATE INDEX events_subscription ON events (subscription_key, ts, seq);
CREATE INDEX events_resource     ON events (resource_key, ts, seq);

CREATE TABLE operations (
	id           TEXT    NOT NULL PRIMARY KEY,
	resource_key TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	body         BLOB    NOT NULL,
	not_before   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);
CREATE INDEX operations_due ON operations (status, not_before);

CREATE TABLE objects (
	kind       TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	body       BLOB    NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (kind, key)
);
