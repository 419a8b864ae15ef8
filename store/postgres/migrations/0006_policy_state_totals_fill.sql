-- The totals of the records written before 0005. A state's rank in the
-- rollup (store.ComplianceRank) prefixes it, so that the least of
-- rank||state per resource is its rolled-up state.
INSERT INTO policy_state_totals (subscription_key, resource_group_key, level, assignment_key, reference_key,
		definition_key, set_key, action, state, n)
	SELECT subscription_key, resource_group_key, 0, assignment_key, reference_key, definition_key, set_key, action, state, COUNT(*)
	FROM policy_states
	GROUP BY subscription_key, resource_group_key, assignment_key, reference_key, definition_key, set_key, action, state;
INSERT INTO policy_state_totals (subscription_key, resource_group_key, level, assignment_key, reference_key,
		definition_key, set_key, action, state, n)
	SELECT sub, rg, 1, assignment_key, '', '', '', '', SUBSTR(w, 2), COUNT(*)
	FROM (SELECT MIN(subscription_key) AS sub, MIN(resource_group_key) AS rg, assignment_key,
			MIN(CAST(CASE state WHEN 'NonCompliant' THEN 1 WHEN 'Compliant' THEN 2 WHEN 'Error' THEN 3
				WHEN 'Conflict' THEN 4 WHEN 'Protected' THEN 5 WHEN 'Exempt' THEN 6 WHEN 'Unknown' THEN 7
				ELSE 8 END AS TEXT) || state) AS w
		FROM policy_states GROUP BY resource_key, assignment_key) AS per_assignment
	GROUP BY sub, rg, assignment_key, SUBSTR(w, 2);
INSERT INTO policy_state_totals (subscription_key, resource_group_key, level, assignment_key, reference_key,
		definition_key, set_key, action, state, n)
	SELECT sub, rg, 2, '', '', '', '', '', SUBSTR(w, 2), COUNT(*)
	FROM (SELECT MIN(subscription_key) AS sub, MIN(resource_group_key) AS rg,
			MIN(CAST(CASE state WHEN 'NonCompliant' THEN 1 WHEN 'Compliant' THEN 2 WHEN 'Error' THEN 3
				WHEN 'Conflict' THEN 4 WHEN 'Protected' THEN 5 WHEN 'Exempt' THEN 6 WHEN 'Unknown' THEN 7
				ELSE 8 END AS TEXT) || state) AS w
		FROM policy_states GROUP BY resource_key) AS per_resource
	GROUP BY sub, rg, SUBSTR(w, 2);
