-- Usage per time bucket over every dimension at once: what unfiltered, ungrouped analytics read (one row per bucket
-- instead of one per combination). Written in the same transaction as insights_rollups.
CREATE TABLE insights_rollup_totals (
    granularity TEXT NOT NULL,
    bucket_ms BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    cost_usd NUMERIC(24,12) NOT NULL,
    errors_client BIGINT NOT NULL,
    errors_rate_limited BIGINT NOT NULL,
    errors_server BIGINT NOT NULL,
    cache_hits BIGINT NOT NULL,
    latency_sketch BYTEA NOT NULL,
    ttft_sketch BYTEA NOT NULL,
    PRIMARY KEY (granularity, bucket_ms)
);
