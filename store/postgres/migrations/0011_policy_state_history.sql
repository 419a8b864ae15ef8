-- The earlier records of a resource × assignment × reference, for the
-- policyStates/default API: when a write replaces a record by one of
-- another state, or none (the resource or its applicability went), the
-- replaced record moves here. A record replaced by one of the same state
-- is not kept: the history holds every change of state. Pruned by age.
CREATE TABLE policy_state_history (
	resource_key      TEXT COLLATE "C" NOT NULL,
	assignment_id     BIGINT NOT NULL,
	reference_id      BIGINT NOT NULL,
	subscription_id   BIGINT NOT NULL,
	resource_group_id BIGINT NOT NULL,
	resource_type_id  BIGINT NOT NULL,
	definition_id     BIGINT NOT NULL,
	set_id            BIGINT NOT NULL,
	state             TEXT COLLATE "C" NOT NULL,
	action            TEXT COLLATE "C" NOT NULL,
	ts                TIMESTAMPTZ NOT NULL,
	body              BYTEA       NOT NULL,
	PRIMARY KEY (resource_key, assignment_id, reference_id, ts)
);
CREATE INDEX policy_state_history_ts ON policy_state_history (ts);
