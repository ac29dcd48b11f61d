-- Governance: users, sessions, service tokens, audit trail, policies, secrets. Times are Unix milliseconds (UTC).
CREATE TABLE gov_users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NULL,
    email TEXT NULL,
    kind TEXT NOT NULL,
    password_hash TEXT NULL,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    oidc_issuer TEXT NULL,
    oidc_subject TEXT NULL,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT NULL,
    erased_at BIGINT NULL
);

CREATE TABLE gov_user_roles (
    user_id TEXT NOT NULL REFERENCES gov_users(id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE gov_user_teams (
    user_id TEXT NOT NULL REFERENCES gov_users(id),
    team_id TEXT NOT NULL,
    team_name TEXT NULL,
    PRIMARY KEY (user_id, team_id)
);

CREATE TABLE gov_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES gov_users(id),
    refresh_hash TEXT NOT NULL UNIQUE,
    previous_refresh_hash TEXT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NULL,
    ip TEXT NULL
);
CREATE INDEX gov_sessions_user ON gov_sessions (user_id);
CREATE INDEX gov_sessions_previous ON gov_sessions (previous_refresh_hash);

CREATE TABLE gov_service_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES gov_users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT NULL
);

-- Append-only: each row carries the SHA-256 of the previous row (hash chain). The triggers stop accidental
-- edits; the chain detects deliberate ones.
CREATE TABLE gov_audit (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    target_type TEXT NULL,
    target_id TEXT NULL,
    ip TEXT NULL,
    before_json TEXT NULL,
    after_json TEXT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX gov_audit_actor ON gov_audit (actor_id);
CREATE INDEX gov_audit_target ON gov_audit (target_id);
CREATE FUNCTION gov_audit_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'gov_audit is append-only'; END; $$ LANGUAGE plpgsql;
CREATE TRIGGER gov_audit_no_change BEFORE UPDATE OR DELETE ON gov_audit FOR EACH ROW EXECUTE FUNCTION gov_audit_append_only();

CREATE TABLE gov_policies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    scope_id TEXT NULL,
    current_version BIGINT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT NULL
);

CREATE TABLE gov_policy_versions (
    policy_id TEXT NOT NULL REFERENCES gov_policies(id),
    version BIGINT NOT NULL,
    format TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (policy_id, version)
);

-- AES-256-GCM: value = base64(version || nonce || ciphertext || tag).
CREATE TABLE gov_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
