-- +goose Up
-- How far each tenant's change feed has been pruned: a kiosk cursor below
-- pruned_through has missed changes and gets a snapshot instead.
CREATE TABLE change_horizons (
    tenant_id      TEXT PRIMARY KEY,
    pruned_through INTEGER NOT NULL
);

-- Finds the visit events a kiosk op produced.
CREATE INDEX visit_events_device ON visit_events (device_id, device_seq);

-- +goose Down
DROP INDEX visit_events_device;
DROP TABLE change_horizons;
