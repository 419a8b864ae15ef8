-- A compliance record names its keys other than the resource's
-- (assignment, reference, subscription, resource group, type,
-- definition, set) by their id, store.PolicyKeyID: 8 bytes instead of
-- about 100 per key, which makes a record and its assignment index entry
-- less than half as long. policy_keys maps the ids back to the keys. The id of a key k is computed here as Go
-- computes it: the first 8 bytes of md5(k) as a signed big-endian
-- integer, 0 for ''.
CREATE FUNCTION pg_temp.mlgov_key_id(k TEXT) RETURNS BIGINT LANGUAGE SQL IMMUTABLE AS
	$$ SELECT CASE WHEN k = '' THEN 0 ELSE ('x' || substr(md5(k), 1, 16))::bit(64)::bigint END $$;
CREATE TABLE policy_keys (
	id   BIGINT PRIMARY KEY,
	name TEXT COLLATE "C" NOT NULL
);
INSERT INTO policy_keys (id, name) VALUES (0, '');
INSERT INTO policy_keys (id, name)
	SELECT pg_temp.mlgov_key_id(k), k FROM (
		SELECT assignment_key AS k FROM policy_states
		UNION SELECT reference_key FROM policy_states
		UNION SELECT subscription_key FROM policy_states
		UNION SELECT resource_group_key FROM policy_states
		UNION SELECT resource_type_key FROM policy_states
		UNION SELECT definition_key FROM policy_states
		UNION SELECT set_key FROM policy_states) AS keys
	WHERE k <> '';
CREATE TABLE policy_states_ids (
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
	PRIMARY KEY (resource_key, assignment_id, reference_id)
);
INSERT INTO policy_states_ids
	SELECT resource_key, pg_temp.mlgov_key_id(assignment_key), pg_temp.mlgov_key_id(reference_key),
		pg_temp.mlgov_key_id(subscription_key), pg_temp.mlgov_key_id(resource_group_key),
		pg_temp.mlgov_key_id(resource_type_key), pg_temp.mlgov_key_id(definition_key),
		pg_temp.mlgov_key_id(set_key), state, action, ts, body
	FROM policy_states;
DROP TABLE policy_states;
ALTER TABLE policy_states_ids RENAME TO policy_states;
ALTER INDEX policy_states_ids_pkey RENAME TO policy_states_pkey;
-- No index by assignment: its entries, which carry the resource key,
-- made a third of what a scan writes. The summaries of an assignment come
-- from policy_state_totals; its records are found by reading the table
-- (in the key order: a page of an assignment that covers most resources
-- is read early), and the deletion of an assignment's records, in the
-- background, reads it whole.
