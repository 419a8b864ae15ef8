-- Totals of the compliance records (store.PolicyStateTotal), kept by
-- every write of records in its transaction, so that a summary costs the
-- number of groups rather than of records. Per subscription and resource
-- group: level 0 counts records per assignment, definition reference
-- (its definition, set, action) and state; level 1 resources per
-- assignment by the state their records of it roll up to; level 2
-- resources by the state all their records roll up to (the other key
-- columns ''). Groups whose count falls to 0 may stay; readers skip them.
CREATE TABLE policy_state_totals (
	subscription_key   TEXT NOT NULL,
	resource_group_key TEXT NOT NULL,
	level              INTEGER NOT NULL,
	assignment_key     TEXT NOT NULL,
	reference_key      TEXT NOT NULL,
	definition_key     TEXT NOT NULL,
	set_key            TEXT NOT NULL,
	action             TEXT NOT NULL,
	state              TEXT NOT NULL,
	n                  INTEGER NOT NULL,
	PRIMARY KEY (subscription_key, resource_group_key, level, assignment_key, reference_key,
		definition_key, set_key, action, state)
) WITHOUT ROWID;
-- Records are written by deleting a resource's records and inserting the
-- new ones: the generation column of the earlier upsert is gone.
ALTER TABLE policy_states DROP COLUMN gen;
