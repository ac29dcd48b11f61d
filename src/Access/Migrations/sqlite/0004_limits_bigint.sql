-- Nothing to change: SQLite's INTEGER is 64-bit (the PostgreSQL migration widens rpm and tpm to BIGINT).
SELECT 1;
