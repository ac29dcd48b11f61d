-- When a subscription began and stopped being billable (statements prorate its plan's price by these); NULL on rows
-- older than this migration (a statement then uses created_at_ms, and expires_at_ms or nothing for the end).
ALTER TABLE access_subscriptions ADD COLUMN activated_at_ms BIGINT NULL;
ALTER TABLE access_subscriptions ADD COLUMN ended_at_ms BIGINT NULL;

-- Credit (negative) or debit (positive) lines, in cents, an admin adds to a team's statement of a month (YYYY-MM), with a reason.
CREATE TABLE access_statement_adjustments (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES access_teams (id),
    month TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX ix_access_statement_adjustments_team ON access_statement_adjustments (team_id, month);
