-- Usage rolled up per time bucket (granularity m, h or d; bucket_ms is the bucket's start, UTC) and per combination of
-- team, app, key, model, listing, deployment and provider ('' where a record had none). Latency and time to first token
-- are DDSketches (see Analytics/DDSketch.cs), so percentiles merge across buckets, combinations and replicas.
CREATE TABLE insights_rollups (
    granularity TEXT NOT NULL,
    bucket_ms BIGINT NOT NULL,
    team_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    listing TEXT NOT NULL,
    deployment TEXT NOT NULL,
    provider TEXT NOT NULL,
    requests BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    cost_usd REAL NOT NULL,
    errors_client BIGINT NOT NULL,
    errors_rate_limited BIGINT NOT NULL,
    errors_server BIGINT NOT NULL,
    cache_hits BIGINT NOT NULL,
    latency_sketch BLOB NOT NULL,
    ttft_sketch BLOB NOT NULL,
    PRIMARY KEY (granularity, bucket_ms, team_id, app_id, key_id, model, listing, deployment, provider)
);

-- Durable positions of consumers of the usage feed; advanced in the same transaction as what they wrote, with a
-- compare-and-set on position, so replicas sharing the database never apply a record twice.
CREATE TABLE insights_cursors (
    name TEXT NOT NULL PRIMARY KEY,
    position BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
