-- Compliance records (store.PolicyState): one row per resource x policy
-- assignment x definition reference, body the PolicyInsights record. The
-- primary key orders lists and paging and serves resource and key-prefix
-- (subscription, resource group) ranges.
CREATE TABLE policy_states (
	resource_key       TEXT COLLATE "C" NOT NULL,
	assignment_key     TEXT COLLATE "C" NOT NULL,
	reference_key      TEXT COLLATE "C" NOT NULL,
	subscription_key   TEXT COLLATE "C" NOT NULL,
	resource_group_key TEXT COLLATE "C" NOT NULL,
	resource_type_key  TEXT COLLATE "C" NOT NULL,
	definition_key     TEXT COLLATE "C" NOT NULL,
	set_key            TEXT COLLATE "C" NOT NULL,
	state              TEXT COLLATE "C" NOT NULL,
	action             TEXT COLLATE "C" NOT NULL,
	ts                 TIMESTAMPTZ NOT NULL,
	body               BYTEA       NOT NULL,
	-- The generation of the PutPolicyStatesBatch call that wrote the row:
	-- the replaced resources' rows of another generation are deleted
	-- after the upsert (a scan's batch is bulk-loaded with COPY instead,
	-- after deleting the resources' rows).
	gen                BIGINT      NOT NULL DEFAULT 0,
	PRIMARY KEY (resource_key, assignment_key, reference_key)
);
-- Deletes and queries by assignment; covers the per-assignment summary
-- (GROUP BY assignment_key, state with COUNT(DISTINCT resource_key)).
CREATE INDEX policy_states_assignment ON policy_states (assignment_key, state, resource_key);
-- Queries of a subscription or resource group (keys as the caller keeps
-- them, not necessarily prefixes of resource_key), in resource order.
CREATE INDEX policy_states_scope ON policy_states (subscription_key, resource_group_key, resource_key);

-- Compliance scan tasks, leased by the replicas (store.ScanTask) with
-- SELECT ... FOR UPDATE SKIP LOCKED. lease_until is the zero time
-- (0001-01-01) while pending.
CREATE TABLE scan_tasks (
	scan_id     TEXT COLLATE "C" NOT NULL,
	task_id     TEXT COLLATE "C" NOT NULL,
	scope       TEXT        NOT NULL,
	owner       TEXT        NOT NULL,
	lease_until TIMESTAMPTZ NOT NULL,
	done        BOOLEAN     NOT NULL,
	processed   BIGINT      NOT NULL,
	PRIMARY KEY (scan_id, task_id)
);
CREATE INDEX scan_tasks_due ON scan_tasks (done, lease_until);
