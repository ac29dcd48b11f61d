-- The catalog listing (slug) and version a call was routed to, when its model came from the catalog.
ALTER TABLE access_usage ADD COLUMN listing TEXT;
ALTER TABLE access_usage ADD COLUMN listing_version TEXT;
CREATE INDEX ix_access_usage_listing ON access_usage (listing, at_ms);
