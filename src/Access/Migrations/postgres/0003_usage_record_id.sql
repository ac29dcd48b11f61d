-- A usage record's own id, so that delivering it twice (a spooled batch retried after the database returns, or after
-- a restart) stores it once. Older rows have none; NULLs never conflict.
ALTER TABLE access_usage ADD COLUMN record_id TEXT NULL;
CREATE UNIQUE INDEX ux_access_usage_record ON access_usage (record_id);
