-- The earlier records of a resource × assignment × reference, for the
-- policyStates/default API: when a write replaces a record by one of
-- another state, or none (the resource or its applicability went), the
-- replaced record moves here. A record replaced by one of the same state
-- is not kept: the history holds every change of state. Pruned by age.
CREATE TABLE policy_state_history (
	resource_key      TEXT    NOT NULL,
	assignment_id     INTEGER NOT NULL,
	reference_id      INTEGER NOT NULL,
	subscription_id   INTEGER NOT NULL,
	resource_group_id INTEGER NOT NULL,
	resource_type_id  INTEGER NOT NULL,
	definition_id     INTEGER NOT NULL,
	set_id            INTEGER NOT NULL,
	state             TEXT    NOT NULL,
	action            TEXT    NOT NULL,
	ts                INTEGER NOT NULL,
	body              BLOB    NOT NULL,
	PRIMARY KEY (resource_key, assignment_id, reference_id, ts)
) WITHOUT ROWID;
CREATE INDEX policy_state_history_ts ON policy_state_history (ts);
