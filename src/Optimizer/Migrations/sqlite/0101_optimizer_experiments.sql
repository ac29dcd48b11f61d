-- Optimizer experiments on a model alias, and which variant each call got (with its guard metrics).
CREATE TABLE insights_experiments (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    allocation TEXT NOT NULL,
    sticky_by TEXT NOT NULL,
    min_share REAL NOT NULL,
    max_cost_per_call REAL NULL,
    variants TEXT NOT NULL,
    winner TEXT NULL,
    created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX ix_insights_experiments_model ON insights_experiments (model, status);

CREATE TABLE insights_experiment_calls (
    request_id TEXT NOT NULL PRIMARY KEY,
    experiment_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    status INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_ms REAL NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX ix_insights_experiment_calls_experiment ON insights_experiment_calls (experiment_id, variant);
