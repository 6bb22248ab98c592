-- +goose Up
-- Search terms: one row per normalised word (lower case, accents folded) of
-- a visit's visitor name, email and company, or of a location's name and
-- address. A prefix search is a range scan of (tenant_id, term); the C
-- collation makes that range byte order, as on SQLite.
CREATE TABLE search_terms (
    tenant_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    ref_id    TEXT NOT NULL,
    term      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, term, kind, ref_id)
);
CREATE INDEX search_terms_ref ON search_terms (kind, ref_id, term);

-- +goose Down
DROP TABLE search_terms;
