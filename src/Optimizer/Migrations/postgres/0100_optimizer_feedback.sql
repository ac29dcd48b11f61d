-- Optimizer: one feedback per gateway request (upserted), with the facts of its usage record it is judged by.
CREATE TABLE insights_feedback (
    request_id TEXT NOT NULL PRIMARY KEY,
    model TEXT NOT NULL,
    deployment TEXT NULL,
    key_id TEXT NULL,
    app_id TEXT NULL,
    team_id TEXT NULL,
    user_id TEXT NULL,
    score DOUBLE PRECISION NOT NULL,
    label TEXT NULL,
    comment TEXT NULL,
    cost_usd NUMERIC(24,12) NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    status INTEGER NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX ix_insights_feedback_model ON insights_feedback (model, created_ms);
CREATE INDEX ix_insights_feedback_key ON insights_feedback (key_id, created_ms);
CREATE INDEX ix_insights_feedback_team ON insights_feedback (team_id, created_ms);
