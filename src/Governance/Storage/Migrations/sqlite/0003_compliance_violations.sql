-- Live listing versions that break a global policy's listing rules, one row per listing version and policy, found when
-- policies are re-evaluated. A violation is open until the listing complies again (or the policy is lifted), then
-- resolved; it opens again if the listing breaks the policy again. Every change is also in the audit trail.
CREATE TABLE gov_compliance_violations (
    listing_id TEXT NOT NULL,
    version TEXT NOT NULL,
    policy_id TEXT NOT NULL,
    slug TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    action TEXT NOT NULL,
    reasons TEXT NOT NULL,
    status TEXT NOT NULL,
    detected_at BIGINT NOT NULL,
    resolved_at BIGINT NULL,
    PRIMARY KEY (listing_id, version, policy_id)
);

CREATE INDEX gov_compliance_violations_status ON gov_compliance_violations (status, detected_at);
