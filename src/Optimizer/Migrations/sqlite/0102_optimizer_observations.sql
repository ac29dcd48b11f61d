-- Optimizer: every score the auto-router learned from (hashed prompt features, never the prompt), appended in order;
-- each replica folds the others' rows, and a start folds them all.
CREATE TABLE optimizer_observations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    replica TEXT NOT NULL,
    model TEXT NOT NULL,
    observation TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
