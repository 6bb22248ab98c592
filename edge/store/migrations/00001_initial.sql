-- +goose Up
-- The kiosk's own database. Timestamps are UTC text, 2006-01-02T15:04:05.000000Z.

-- Small key/value facts: pairing state, device id, tenant, location,
-- the down-feed cursor, the next outbox sequence number.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The device's private key and identity once paired.
CREATE TABLE identity (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    device_id   TEXT NOT NULL DEFAULT '',
    private_key BLOB NOT NULL,
    tenant_id   TEXT NOT NULL DEFAULT '',
    tenant_name TEXT NOT NULL DEFAULT '',
    location_id TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL
);

CREATE TABLE visits (
    id                 TEXT PRIMARY KEY,
    location_id        TEXT NOT NULL,
    host_id            TEXT NOT NULL DEFAULT '',
    visitor_name       TEXT NOT NULL,
    visitor_email      TEXT NOT NULL DEFAULT '',
    visitor_company    TEXT NOT NULL DEFAULT '',
    visitor_phone      TEXT NOT NULL DEFAULT '',
    visitor_type       TEXT NOT NULL DEFAULT 'guest',
    status             TEXT NOT NULL,
    badge_number       TEXT NOT NULL DEFAULT '',
    preregistration_id TEXT NOT NULL DEFAULT '',
    checked_in_at      TEXT NOT NULL,
    checked_out_at     TEXT,
    nda_version        TEXT NOT NULL DEFAULT '',
    nda_signed_at      TEXT,
    nda_signature      BLOB
);
CREATE INDEX visits_status ON visits (status, checked_in_at);
CREATE INDEX visits_badge ON visits (badge_number, status);

-- Every local change, in the same transaction as the change, numbered by
-- a gapless per-device sequence. Rows stay until the cloud acknowledges them.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY,
    op_id      TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    time       TEXT NOT NULL,
    boot_id    TEXT NOT NULL,
    mono_ms    INTEGER NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending',
    code       TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_state ON outbox (state, seq);

-- Clock offsets measured against the cloud, per process boot.
CREATE TABLE boot_offsets (
    boot_id   TEXT PRIMARY KEY,
    offset_ms INTEGER NOT NULL
);

-- Data that flows down from the cloud, replaced from the feed.
CREATE TABLE hosts (
    id          TEXT PRIMARY KEY,
    location_id TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX hosts_name ON hosts (name COLLATE NOCASE);

CREATE TABLE preregistrations (
    id              TEXT PRIMARY KEY,
    location_id     TEXT NOT NULL,
    host_id         TEXT NOT NULL DEFAULT '',
    visitor_name    TEXT NOT NULL,
    visitor_email   TEXT NOT NULL DEFAULT '',
    visitor_company TEXT NOT NULL DEFAULT '',
    visitor_phone   TEXT NOT NULL DEFAULT '',
    visitor_type    TEXT NOT NULL DEFAULT 'guest',
    invite_code     TEXT NOT NULL,
    expected_at     TEXT,
    status          TEXT NOT NULL,
    visit_id        TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX preregistrations_code ON preregistrations (invite_code);

CREATE TABLE badges (
    id          TEXT PRIMARY KEY,
    location_id TEXT NOT NULL,
    number      TEXT NOT NULL,
    status      TEXT NOT NULL,
    visit_id    TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX badges_number ON badges (location_id, number);

CREATE TABLE locations (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    address  TEXT NOT NULL DEFAULT '',
    type     TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL DEFAULT 'UTC'
);

CREATE TABLE settings (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    data TEXT NOT NULL
);

-- Badge print jobs: queued with the check-in, retried until printed.
CREATE TABLE print_jobs (
    id              TEXT PRIMARY KEY,
    visit_id        TEXT NOT NULL,
    format          TEXT NOT NULL,
    data            BLOB NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    printed_at      TEXT
);
CREATE INDEX print_jobs_status ON print_jobs (status, next_attempt_at);

-- +goose Down
DROP TABLE print_jobs;
DROP TABLE settings;
DROP TABLE locations;
DROP TABLE badges;
DROP TABLE preregistrations;
DROP TABLE hosts;
DROP TABLE boot_offsets;
DROP TABLE outbox;
DROP TABLE visits;
DROP TABLE identity;
DROP TABLE meta;
