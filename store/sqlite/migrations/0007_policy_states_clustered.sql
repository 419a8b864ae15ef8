-- The records clustered on their key (WITHOUT ROWID: the bodies are a
-- couple of hundred bytes now, the summaries come from
-- policy_state_totals): one B-tree fewer to write per record, and the
-- scope index goes, since a subscription's and a resource group's
-- records are ranges of the key (store.PolicyStateQuery.Under).
CREATE TABLE policy_states_clustered (
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
	PRIMARY KEY (resource_key, assignment_key, reference_key)
) WITHOUT ROWID;
INSERT INTO policy_states_clustered
	SELECT resource_key, assignment_key, reference_key, subscription_key, resource_group_key, resource_type_key,
		definition_key, set_key, state, action, ts, body
	FROM policy_states;
DROP TABLE policy_states;
ALTER TABLE policy_states_clustered RENAME TO policy_states;
-- Deletes and queries by assignment; its entries carry the key, in
-- whose order an assignment's records are listed.
CREATE INDEX policy_states_assignment ON policy_states (assignment_key);
