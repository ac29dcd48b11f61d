-- The months whose statement has been closed for a team; the statement.closed event is added to insights_events in the
-- same transaction as the row, so each team and month is announced exactly once whichever replica gets there first.
CREATE TABLE insights_statement_closures (
    team_id TEXT NOT NULL,
    month TEXT NOT NULL,
    event_id TEXT NOT NULL,
    closed_ms BIGINT NOT NULL,
    PRIMARY KEY (team_id, month)
);
