-- Compliance records (store.PolicyState): one row per resource x policy
-- assignment x definition reference, body the PolicyInsights record. A
-- rowid table (bodies of a kilobyte or so are too large for WITHOUT
-- ROWID): rows are appended, the unique key orders lists and paging and
-- serves resource and key-prefix (subscription, resource group) ranges.
CREATE TABLE policy_states (
	resource_key       TEXT    NOT NULL,
	assignment_key     TEXT    NOT NULL,
	reference_key      TEXT    NOT NULL,
	subscription_key   TEXT    NOT NULL,
	resource_group_key TEXT    NOT NULL,
	resource_type_key  TEXT    NOT NULL,
	definition_key     TEXT    NOT NULL,
	set_key            TEXT    NOT NULL,
	state              TEXT    NOT NULL,
	action             TEXT    NOT NULL,
	ts                 INTEGER NOT NULL,
	body               BLOB    NOT NULL,
	-- The generation of the PutPolicyStatesBatch call that wrote the row:
	-- the replaced resources' rows of another generation are deleted
	-- after the upsert.
	gen                INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX policy_states_key ON policy_states (resource_key, assignment_key, reference_key);
-- Deletes and queries by assignment; covers the per-assignment summary
-- (GROUP BY assignment_key, state with COUNT(DISTINCT resource_key)).
CREATE INDEX policy_states_assignment ON policy_states (assignment_key, state, resource_key);
-- Queries of a subscription or resource group (keys as the caller keeps
-- them, not necessarily prefixes of resource_key), in resource order.
CREATE INDEX policy_states_scope ON policy_states (subscription_key, resource_group_key, resource_key);

-- Compliance scan tasks, leased by the replicas (store.ScanTask).
-- lease_until is the zero time (as microseconds) while pending.
CREATE TABLE scan_tasks (
	scan_id     TEXT    NOT NULL,
	task_id     TEXT    NOT NULL,
	scope       TEXT    NOT NULL,
	owner       TEXT    NOT NULL,
	lease_until INTEGER NOT NULL,
	done        INTEGER NOT NULL,
	processed   INTEGER NOT NULL,
	PRIMARY KEY (scan_id, task_id)
);
CREATE INDEX scan_tasks_due ON scan_tasks (done, lease_until);
