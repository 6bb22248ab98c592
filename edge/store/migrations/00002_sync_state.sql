-- +goose Up
-- Items of a snapshot in progress. A snapshot spans several frames; its
-- items are staged here and replace the entity tables wholesale, together
-- with the new cursor, in one transaction at snapshot_end. A connection
-- lost mid-snapshot leaves only staging rows, cleared at the next one.
CREATE TABLE snapshot_staging (
    entity TEXT NOT NULL,
    id     TEXT NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (entity, id)
);

CREATE INDEX visits_name ON visits (visitor_name COLLATE NOCASE);

-- +goose Down
DROP INDEX visits_name;
DROP TABLE snapshot_staging;
