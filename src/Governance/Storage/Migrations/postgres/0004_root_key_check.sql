-- A value derived from the installation's root key (Security:EncryptionKey, or the key file), written by the first
-- process that starts on this database. A replica started with another root key finds a different value and refuses
-- to start: it could not read what the others encrypted or signed.
CREATE TABLE gov_root_key_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    check_value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
