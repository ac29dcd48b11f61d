-- Usage per time bucket and per value of one dimension (team, app, key, model, listing, deployment or provider):
-- what analytics grouped by one dimension without other filters read (a handful of rows per bucket instead of one per
-- combination). Written in the same transaction as insights_rollups.
CREATE TABLE insights_rollup_dimensions (
    granularity TEXT NOT NULL,
    bucket_ms BIGINT NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
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
    PRIMARY KEY (dimension, granularity, bucket_ms, value)
);
