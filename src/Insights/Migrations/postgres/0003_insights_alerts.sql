-- Alerts raised by the incident detectors. At most one open alert (firing or acknowledged) per fingerprint
-- (type + scope): repeats are counted on it, not opened anew. group_key groups related alerts (e.g. one provider).
CREATE TABLE insights_alerts (
    id TEXT NOT NULL PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    type TEXT NOT NULL,
    scope TEXT NOT NULL,
    group_key TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    summary TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    occurrences BIGINT NOT NULL,
    actions TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    acknowledged_ms BIGINT NULL,
    acknowledged_by TEXT NULL,
    resolved_ms BIGINT NULL
);
CREATE INDEX ix_insights_alerts_fingerprint ON insights_alerts (fingerprint, state);
CREATE INDEX ix_insights_alerts_started ON insights_alerts (started_ms);

-- Webhook subscriptions: alerts and/or events, signed with HMAC-SHA256 under a secret held in the secret store.
CREATE TABLE insights_webhooks (
    id TEXT NOT NULL PRIMARY KEY,
    url TEXT NOT NULL,
    kinds TEXT NOT NULL,
    secret_name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    created_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

-- The outbox and delivery log: one row per payload and webhook, retried with backoff until delivered or failed.
CREATE TABLE insights_deliveries (
    id TEXT NOT NULL PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    last_status INTEGER NULL,
    last_error TEXT NULL,
    created_ms BIGINT NOT NULL,
    delivered_ms BIGINT NULL
);
CREATE INDEX ix_insights_deliveries_due ON insights_deliveries (state, next_attempt_ms);
CREATE INDEX ix_insights_deliveries_webhook ON insights_deliveries (webhook_id, created_ms);

-- Events out: usage records and domain events, each with a unique id consumers deduplicate on; sinks keep cursors
-- in insights_cursors over seq.
CREATE TABLE insights_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX ix_insights_events_id ON insights_events (event_id);
