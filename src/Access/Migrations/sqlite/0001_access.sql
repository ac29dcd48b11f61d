CREATE TABLE access_teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    rpm INTEGER NULL,
    tpm INTEGER NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE access_apps (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES access_teams (id),
    name TEXT NOT NULL,
    rpm INTEGER NULL,
    tpm INTEGER NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (team_id, name)
);

CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    team_id TEXT NULL REFERENCES access_teams (id),
    app_id TEXT NULL REFERENCES access_apps (id),
    user_id TEXT NULL,
    role TEXT NOT NULL,
    models TEXT NULL,
    direct INTEGER NOT NULL,
    rpm INTEGER NULL,
    tpm INTEGER NULL,
    expires_at_ms BIGINT NULL,
    revoked_at_ms BIGINT NULL,
    created_at_ms BIGINT NOT NULL,
    created_by TEXT NULL,
    previous_hash TEXT NULL,
    previous_until_ms BIGINT NULL
);

CREATE TABLE access_budgets (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    limit_usd REAL NULL,
    limit_tokens BIGINT NULL,
    period TEXT NOT NULL,
    alert_threshold REAL NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX ix_access_budgets_scope ON access_budgets (scope, scope_id);

CREATE TABLE access_plans (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    rpm INTEGER NULL,
    tpm INTEGER NULL,
    token_quota BIGINT NULL,
    quota_period TEXT NOT NULL,
    price_usd REAL NOT NULL,
    requires_approval INTEGER NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (model, name)
);

CREATE TABLE access_subscriptions (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES access_apps (id),
    plan_id TEXT NOT NULL REFERENCES access_plans (id),
    status TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NULL
);
CREATE INDEX ix_access_subscriptions_app ON access_subscriptions (app_id);

CREATE TABLE access_usage (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    operation TEXT NOT NULL,
    key_id TEXT NULL,
    app_id TEXT NULL,
    team_id TEXT NULL,
    user_id TEXT NULL,
    subscription_id TEXT NULL,
    model TEXT NOT NULL,
    provider TEXT NULL,
    deployment TEXT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    cost_usd REAL NOT NULL,
    latency_ms REAL NOT NULL,
    ttft_ms REAL NULL,
    status INTEGER NOT NULL,
    cache TEXT NOT NULL,
    stream INTEGER NOT NULL
);
CREATE INDEX ix_access_usage_at ON access_usage (at_ms);
CREATE INDEX ix_access_usage_key ON access_usage (key_id, at_ms);
CREATE INDEX ix_access_usage_app ON access_usage (app_id, at_ms);
CREATE INDEX ix_access_usage_team ON access_usage (team_id, at_ms);
CREATE INDEX ix_access_usage_user ON access_usage (user_id, at_ms);
CREATE INDEX ix_access_usage_request ON access_usage (request_id);
