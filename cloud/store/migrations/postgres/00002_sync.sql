-- +goose Up
-- How far each tenant's change feed has been pruned: a kiosk cursor below
-- pruned_through has missed changes and gets a snapshot instead.
CREATE TABLE change_horizons (
    tenant_id      TEXT PRIMARY KEY,
    pruned_through BIGINT NOT NULL
);

-- Finds the visit events a kiosk op produced.
CREATE INDEX visit_events_device ON visit_events (device_id, device_seq);

-- A kiosk follows its tenant's changes by seq, so a tenant's seqs must
-- become visible in increasing order. An identity value is taken when the
-- row is inserted, not when the transaction commits, so two concurrent
-- transactions could commit 11 before 10 and a reader at cursor 11 would
-- never see 10. This trigger takes a per-tenant transaction lock first and
-- only then draws the seq: the next writer of the same tenant waits until
-- this transaction ends, so its seq is larger and it commits later.
-- (SQLite needs none of this: its writers are serialised.)
-- +goose StatementBegin
CREATE FUNCTION changes_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('visitor.changes:' || NEW.tenant_id, 0));
    NEW.seq := nextval(pg_get_serial_sequence('changes', 'seq'));
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER changes_commit_order BEFORE INSERT ON changes
    FOR EACH ROW EXECUTE FUNCTION changes_commit_order();

-- +goose Down
DROP TRIGGER changes_commit_order ON changes;
DROP FUNCTION changes_commit_order();
DROP INDEX visit_events_device;
DROP TABLE change_horizons;
