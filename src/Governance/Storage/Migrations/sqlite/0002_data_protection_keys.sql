-- ASP.NET Core data protection keys (the portal's session storage, antiforgery), shared by every replica.
-- Each row is one key's XML, its key material encrypted with a key derived from the installation's root key.
CREATE TABLE gov_data_protection_keys (
    name TEXT PRIMARY KEY,
    xml TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
