-- The totals worked out again from the records (after 0009, which kept
-- them as they were): the fill of 0006 and 0008 over the records as they
-- are stored now. A state's rank in the rollup (store.ComplianceRank)
-- prefixes it, so that the least of rank||state per resource is its
-- rolled-up state. Level 1 is kept for initiatives (records with a
-- reference) only. The records are read with their keys as the store
-- reads them (sqlq's policyStatesFrom).
DELETE FROM policy_state_totals;
CREATE TEMPORARY TABLE policy_states_keyed AS
	SELECT p.resource_key, p.state, p.action, a.name AS assignment_key, r.name AS reference_key,
		s.name AS subscription_key, g.name AS resource_group_key, d.name AS definition_key, e.name AS set_key
	FROM policy_states AS p
	LEFT JOIN policy_keys AS a ON a.id = p.assignment_id
	LEFT JOIN policy_keys AS r ON r.id = p.reference_id
	LEFT JOIN policy_keys AS s ON s.id = p.subscription_id
	LEFT JOIN policy_keys AS g ON g.id = p.resource_group_id
	LEFT JOIN policy_keys AS d ON d.id = p.definition_id
	LEFT JOIN policy_keys AS e ON e.id = p.set_id;
INSERT INTO policy_state_totals (subscription_key, resource_group_key, level, assignment_key, reference_key,
		definition_key, set_key, action, state, n)
	SELECT subscription_key, resource_group_key, 0, assignment_key, reference_key, definition_key, set_key, action, state, COUNT(*)
	FROM policy_states_keyed
	GROUP BY subscription_key, resource_group_key, assignment_key, reference_key, definition_key, set_key, action, state;
INSERT INTO policy_state_totals (subscription_key, resource_group_key, level, assignment_key, reference_key,
		definition_key, set_key, action, state, n)
	SELECT sub, rg, 1, assignment_key, '', '', '', '', SUBSTR(w, 2), COUNT(*)
	FROM (SELECT MIN(subscription_key) AS sub, MIN(resource_group_key) AS rg, assignment_key,
			MIN(CAST(CASE state WHEN 'NonCompliant' THEN 1 WHEN 'Compliant' THEN 2 WHEN 'Error' THEN 3
				WHEN 'Conflict' THEN 4 WHEN 'Protected' THEN 5 WHEN 'Exempt' THEN 6 WHEN 'Unknown' THEN 7
				ELSE 8 END AS TEXT) || state) AS w
		FROM policy_states_keyed WHERE reference_key <> ''
		GROUP BY resource_key, assignment_key) AS per_assignment
	GROUP BY sub, rg, assignment_key, SUBSTR(w, 2);
INSERT INTO policy_state_totals (subscription_key, resource_group_key, level, assignment_key, reference_key,
		definition_key, set_key, action, state, n)
	SELECT sub, rg, 2, '', '', '', '', '', SUBSTR(w, 2), COUNT(*)
	FROM (SELECT MIN(subscription_key) AS sub, MIN(resource_group_key) AS rg,
			MIN(CAST(CASE state WHEN 'NonCompliant' THEN 1 WHEN 'Compliant' THEN 2 WHEN 'Error' THEN 3
				WHEN 'Conflict' THEN 4 WHEN 'Protected' THEN 5 WHEN 'Exempt' THEN 6 WHEN 'Unknown' THEN 7
				ELSE 8 END AS TEXT) || state) AS w
		FROM policy_states_keyed GROUP BY resource_key) AS per_resource
	GROUP BY sub, rg, SUBSTR(w, 2);
DROP TABLE policy_states_keyed;
