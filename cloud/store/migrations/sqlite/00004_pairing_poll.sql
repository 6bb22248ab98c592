-- +goose Up
-- Pairing polls: the interval a kiosk must keep between polls (raised by
-- each slow_down answer, so every cloud instance holds it to the same
-- pace) and the kiosk software version it reported, for the Displays page.
ALTER TABLE pairings ADD COLUMN poll_interval INTEGER NOT NULL DEFAULT 5;
ALTER TABLE pairings ADD COLUMN app_version TEXT NOT NULL DEFAULT '';
CREATE INDEX pairings_expires ON pairings (expires_at);

-- +goose Down
DROP INDEX pairings_expires;
ALTER TABLE pairings DROP COLUMN app_version;
ALTER TABLE pairings DROP COLUMN poll_interval;
