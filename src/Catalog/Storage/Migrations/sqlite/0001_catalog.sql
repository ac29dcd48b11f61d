-- Catalog: listings (services), their versions, lifecycle history, approvals and reviews.
CREATE TABLE catalog_services (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    publisher TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE catalog_versions (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES catalog_services(id),
    version TEXT NOT NULL,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    checks TEXT NULL,
    approvals_required INTEGER NOT NULL DEFAULT 1,
    sunset_at TEXT NULL,
    replacement TEXT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (service_id, version)
);
CREATE INDEX ix_catalog_versions_state ON catalog_versions (state);

CREATE TABLE catalog_transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version_id TEXT NOT NULL REFERENCES catalog_versions(id),
    from_state TEXT NULL,
    to_state TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NULL,
    at TEXT NOT NULL
);
CREATE INDEX ix_catalog_transitions_version ON catalog_transitions (version_id);

CREATE TABLE catalog_approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version_id TEXT NOT NULL REFERENCES catalog_versions(id),
    approver TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT NULL,
    at TEXT NOT NULL
);
CREATE INDEX ix_catalog_approvals_version ON catalog_approvals (version_id);

CREATE TABLE catalog_reviews (
    service_id TEXT NOT NULL REFERENCES catalog_services(id),
    user_id TEXT NOT NULL,
    stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    text TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (service_id, user_id)
);
