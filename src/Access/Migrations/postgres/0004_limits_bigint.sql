-- Requests and tokens per minute are 64-bit everywhere (SQLite's INTEGER already is): a limit above 2^31 was refused by PostgreSQL.
ALTER TABLE access_teams ALTER COLUMN rpm TYPE BIGINT, ALTER COLUMN tpm TYPE BIGINT;
ALTER TABLE access_apps ALTER COLUMN rpm TYPE BIGINT, ALTER COLUMN tpm TYPE BIGINT;
ALTER TABLE access_keys ALTER COLUMN rpm TYPE BIGINT, ALTER COLUMN tpm TYPE BIGINT;
ALTER TABLE access_plans ALTER COLUMN rpm TYPE BIGINT, ALTER COLUMN tpm TYPE BIGINT;
