-- SLA violations per listing version and deployment: one row per breach of one target, open while it lasts
-- (resolved_ms NULL), with the worst measurement seen.
CREATE TABLE insights_sla_violations (
    id TEXT NOT NULL PRIMARY KEY,
    listing TEXT NOT NULL,
    deployment TEXT NOT NULL,
    target TEXT NOT NULL,
    objective REAL NOT NULL,
    measured REAL NOT NULL,
    worst REAL NOT NULL,
    requests BIGINT NOT NULL,
    window_seconds BIGINT NOT NULL,
    started_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    resolved_ms BIGINT NULL
);
CREATE INDEX ix_insights_sla_violations_listing ON insights_sla_violations (listing, started_ms);
CREATE INDEX ix_insights_sla_violations_open ON insights_sla_violations (resolved_ms);
