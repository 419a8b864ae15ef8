-- Pruning the activity log (retention) scans events by time across
-- subscriptions.
CREATE INDEX events_ts ON events (ts, seq);
