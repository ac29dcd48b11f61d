-- Registry sources (Catalog:Sources): who may sync each one now (a lease, so one replica syncs at a time) and how the
-- last sync went. Times are Unix milliseconds.
CREATE TABLE catalog_sources (
    name TEXT PRIMARY KEY,
    lease_owner TEXT NULL,
    lease_until_ms BIGINT NULL,
    last_sync_ms BIGINT NULL,
    last_status TEXT NULL,
    last_result TEXT NULL,
    last_error TEXT NULL
);
