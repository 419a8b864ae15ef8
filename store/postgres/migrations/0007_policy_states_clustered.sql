-- A subscription's and a resource group's records are ranges of the key
-- (store.PolicyStateQuery.Under): the scope index goes, one index fewer
-- to write per record. The summaries come from policy_state_totals, so
-- the assignment index need not cover states any more; it lists an
-- assignment's records in key order.
DROP INDEX policy_states_scope;
DROP INDEX policy_states_assignment;
CREATE INDEX policy_states_assignment ON policy_states (assignment_key, resource_key, reference_key);
