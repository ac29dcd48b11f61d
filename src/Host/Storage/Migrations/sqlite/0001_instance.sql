-- The identity of this installation, created on first run.
CREATE TABLE IF NOT EXISTS instance (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
