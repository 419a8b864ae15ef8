-- A compliance record names its keys other than the resource's
-- (assignment, reference, subscription, resource group, type,
-- definition, set) by their id, store.PolicyKeyID: 8 bytes instead of about 100
-- per key, which makes a record and its assignment index entry less than
-- half as long. policy_keys maps the ids back to the keys.
CREATE TABLE policy_keys (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL
);
INSERT INTO policy_keys (id, name) VALUES (0, '');
INSERT INTO policy_keys (id, name)
	SELECT mlgov_key_id(k), k FROM (
		SELECT assignment_key AS k FROM policy_states
		UNION SELECT reference_key FROM policy_states
		UNION SELECT subscription_key FROM policy_states
		UNION SELECT resource_group_key FROM policy_states
		UNION SELECT resource_type_key FROM policy_states
		UNION SELECT definition_key FROM policy_states
		UNION SELECT set_key FROM policy_states) AS keys
	WHERE k <> '';
CREATE TABLE policy_states_ids (
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
	PRIMARY KEY (resource_key, assignment_id, reference_id)
) WITHOUT ROWID;
INSERT INTO policy_states_ids
	SELECT resource_key, mlgov_key_id(assignment_key), mlgov_key_id(reference_key), mlgov_key_id(subscription_key),
		mlgov_key_id(resource_group_key), mlgov_key_id(resource_type_key), mlgov_key_id(definition_key),
		mlgov_key_id(set_key), state, action, ts, body
	FROM policy_states;
DROP TABLE policy_states;
ALTER TABLE policy_states_ids RENAME TO policy_states;
-- No index by assignment: its entries, which carry the resource key,
-- made a third of what a scan writes. The summaries of an assignment come
-- from policy_state_totals; its records are found by reading the table
-- (in the key order: a page of an assignment that covers most resources
-- is read early), and the deletion of an assignment's records, in the
-- background, reads it whole.
