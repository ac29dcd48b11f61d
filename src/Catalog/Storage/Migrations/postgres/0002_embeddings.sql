-- Embeddings of published listing versions for hybrid search, computed at publish time (float32, base64).
CREATE TABLE catalog_embeddings (
    version_id TEXT NOT NULL REFERENCES catalog_versions(id),
    model TEXT NOT NULL,
    vector TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (version_id, model)
);
