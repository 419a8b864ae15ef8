-- The compliance totals of a scope (a subscription or a resource group)
-- at one moment, for the trend of the dashboard
-- (Mlgov.Governance/complianceHistory): recorded periodically and after
-- full scans, a scope and time written again replaces the row (replicas
-- record the same hour alike). Pruned by age with the compliance history.
CREATE TABLE compliance_snapshots (
	scope_key TEXT    NOT NULL,
	ts        INTEGER NOT NULL,
	body      BLOB    NOT NULL,
	PRIMARY KEY (scope_key, ts)
) WITHOUT ROWID;
CREATE INDEX compliance_snapshots_ts ON compliance_snapshots (ts);
