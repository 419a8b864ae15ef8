-- The compliance totals of a scope (a subscription or a resource group)
-- at one moment, for the trend of the dashboard
-- (Mlgov.Governance/complianceHistory): recorded periodically and after
-- full scans, a scope and time written again replaces the row (replicas
-- record the same hour alike). Pruned by age with the compliance history.
CREATE TABLE compliance_snapshots (
	scope_key TEXT COLLATE "C" NOT NULL,
	ts        TIMESTAMPTZ NOT NULL,
	body      BYTEA       NOT NULL,
	PRIMARY KEY (scope_key, ts)
);
CREATE INDEX compliance_snapshots_ts ON compliance_snapshots (ts);
