-- Initial schema. Timestamps are TIMESTAMPTZ (microsecond precision).
-- Key columns use COLLATE "C" so that ordering, paging cursors and
-- key-prefix ranges compare byte-wise, exactly as in SQLite, whatever the
-- database's default collation. Bodies are BYTEA so that the JSON bytes
-- round-trip unchanged.

-- resource_seq numbers every resource write (Resource.Seq).
CREATE SEQUENCE resource_seq;

CREATE TABLE resources (
	key                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	id                 TEXT        NOT NULL,
	parent_key         TEXT COLLATE "C" NOT NULL,
	type_key           TEXT COLLATE "C" NOT NULL,
	subscription_key   TEXT COLLATE "C" NOT NULL,
	resource_group_key TEXT COLLATE "C" NOT NULL,
	body               BYTEA       NOT NULL,
	etag               TEXT        NOT NULL,
	seq                BIGINT      NOT NULL,
	created_at         TIMESTAMPTZ NOT NULL,
	updated_at         TIMESTAMPTZ NOT NULL
);
-- The primary key serves lookups and key-prefix range scans; each filter
-- index carries key so that filtered lists come out in key order.
CREATE INDEX resources_parent         ON resources (parent_key, key);
CREATE INDEX resources_type           ON resources (type_key, key);
CREATE INDEX resources_subscription   ON resources (subscription_key, key);
CREATE INDEX resources_resource_group ON resources (resource_group_key, key);
CREATE UNIQUE INDEX resources_seq     ON resources (seq);

CREATE TABLE events (
	seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id               TEXT COLLATE "C" NOT NULL UNIQUE,
	subscription_key TEXT COLLATE "C" NOT NULL,
	ts               TIMESTAMPTZ NOT NULL,
	resource_group   TEXT COLLATE "C" NOT NULL,
	resource_key     TEXT COLLATE "C" NOT NULL,
	correlation_id   TEXT COLLATE "C" NOT NULL,
	operation_id     TEXT        NOT NULL,
	body             BYTEA       NOT NULL
);
CREATE INDEX events_subscription ON events (subscription_key, ts, seq);
CREATE INDEX events_resource     ON events (resource_key, ts, seq);

CREATE TABLE operations (
	id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	resource_key TEXT COLLATE "C" NOT NULL,
	status       TEXT COLLATE "C" NOT NULL,
	body         BYTEA       NOT NULL,
	not_before   TIMESTAMPTZ NOT NULL,
	updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX operations_due ON operations (status, not_before);

CREATE TABLE objects (
	kind       TEXT COLLATE "C" NOT NULL,
	key        TEXT COLLATE "C" NOT NULL,
	body       BYTEA       NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (kind, key)
);
