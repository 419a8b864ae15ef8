-- The per-assignment totals (level 1) are kept for initiatives only: an
-- assignment of a single definition has one record per resource, so its
-- level-1 counts are its level-0 counts, which the store reads instead.
DELETE FROM policy_state_totals WHERE level = 1 AND assignment_key IN
	(SELECT assignment_key FROM policy_state_totals WHERE level = 0 AND reference_key = '');
