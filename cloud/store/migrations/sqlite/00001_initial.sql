-- +goose Up
-- Timestamps are UTC text in the fixed-width form 2006-01-02T15:04:05.000000Z,
-- so they sort and compare the same way on SQLite and PostgreSQL.

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    settings   TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);

CREATE TABLE locations (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    address    TEXT NOT NULL DEFAULT '',
    type       TEXT NOT NULL DEFAULT '',
    timezone   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX locations_tenant ON locations (tenant_id, name);

CREATE TABLE hosts (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    location_id TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 1,
    updated_at  TEXT NOT NULL
);
CREATE INDEX hosts_tenant ON hosts (tenant_id, name);

CREATE TABLE visits (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    location_id        TEXT NOT NULL,
    host_id            TEXT NOT NULL DEFAULT '',
    visitor_name       TEXT NOT NULL,
    visitor_email      TEXT NOT NULL DEFAULT '',
    visitor_company    TEXT NOT NULL DEFAULT '',
    visitor_phone      TEXT NOT NULL DEFAULT '',
    visitor_type       TEXT NOT NULL DEFAULT 'guest',
    status             TEXT NOT NULL,
    source             TEXT NOT NULL,
    device_id          TEXT NOT NULL DEFAULT '',
    badge_number       TEXT NOT NULL DEFAULT '',
    preregistration_id TEXT NOT NULL DEFAULT '',
    checked_in_at      TEXT,
    checked_out_at     TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    flag               TEXT NOT NULL DEFAULT '',
    ai_risk_score      REAL,
    ai_risk_notes      TEXT,
    nda_version        TEXT NOT NULL DEFAULT '',
    nda_signed_at      TEXT,
    nda_signature_ref  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX visits_tenant_time ON visits (tenant_id, checked_in_at);
CREATE INDEX visits_location_time ON visits (tenant_id, location_id, checked_in_at);
CREATE INDEX visits_tenant_status ON visits (tenant_id, status);

-- Every change to a visit, in the order it happened; visits are derived
-- from these. (source, device_id, op_id) identifies a kiosk op.
CREATE TABLE visit_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL,
    visit_id   TEXT NOT NULL,
    type       TEXT NOT NULL,
    at         TEXT NOT NULL,
    source     TEXT NOT NULL,
    actor_id   TEXT NOT NULL DEFAULT '',
    device_id  TEXT NOT NULL DEFAULT '',
    device_seq INTEGER NOT NULL DEFAULT 0,
    data       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX visit_events_visit ON visit_events (tenant_id, visit_id, seq);

CREATE TABLE preregistrations (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
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
    visit_id        TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX preregistrations_code ON preregistrations (tenant_id, invite_code);

CREATE TABLE badges (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    location_id TEXT NOT NULL,
    number      TEXT NOT NULL,
    status      TEXT NOT NULL,
    visit_id    TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX badges_number ON badges (tenant_id, location_id, number);

CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    location_id      TEXT NOT NULL,
    name             TEXT NOT NULL,
    public_key       BLOB NOT NULL,
    status           TEXT NOT NULL,
    last_seen_at     TEXT,
    last_applied_seq INTEGER NOT NULL DEFAULT 0,
    pending_ops      INTEGER NOT NULL DEFAULT 0,
    rejected_ops     INTEGER NOT NULL DEFAULT 0,
    printer_status   TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL
);
CREATE INDEX devices_tenant ON devices (tenant_id, name);

-- Kiosk ops the cloud could never apply: kept with the reason, never retried.
CREATE TABLE rejected_ops (
    device_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    tenant_id  TEXT NOT NULL,
    op_id      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    code       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    payload    TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);

-- Pending device-code pairings. Codes are stored hashed.
CREATE TABLE pairings (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash   TEXT NOT NULL UNIQUE,
    public_key       BLOB NOT NULL,
    name             TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    tenant_id        TEXT NOT NULL DEFAULT '',
    location_id      TEXT NOT NULL DEFAULT '',
    device_id        TEXT NOT NULL DEFAULT '',
    approved_by      TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    last_poll_at     TEXT
);

-- The down-stream change feed kiosks follow with a cursor (seq).
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    location_id TEXT NOT NULL DEFAULT '',
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    op          TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    at          TEXT NOT NULL
);
CREATE INDEX changes_tenant ON changes (tenant_id, seq);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    at         TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id   TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '{}',
    dedupe_key TEXT
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, at);
CREATE UNIQUE INDEX audit_log_dedupe ON audit_log (tenant_id, dedupe_key);

-- Transactional outbox of Bus events: written in the same transaction as
-- the change that causes the event.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    tenant_id       TEXT NOT NULL,
    type            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    time            TEXT NOT NULL,
    data            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    parked          INTEGER NOT NULL DEFAULT 0,
    delivered_at    TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, parked, next_attempt_at);

CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    tenant_name TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Hub token ids already used: the unique insert is the atomic consumption.
CREATE TABLE consumed_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);

CREATE TABLE integration_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX integration_keys_tenant ON integration_keys (tenant_id);

CREATE TABLE billing_reports (
    idempotency_key TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    period          TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    as_of           TEXT NOT NULL,
    sent_at         TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT ''
);

-- Named time-limited leases: one holder at a time across instances
-- (billing leadership and outbox relay on SQLite; PostgreSQL may also use
-- advisory locks).
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Last success and last error of each integration, for Settings.
CREATE TABLE integration_health (
    name          TEXT PRIMARY KEY,
    last_ok_at    TEXT,
    last_error_at TEXT,
    last_error    TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE integration_health;
DROP TABLE leases;
DROP TABLE billing_reports;
DROP TABLE integration_keys;
DROP TABLE consumed_tokens;
DROP TABLE sessions;
DROP TABLE outbox;
DROP TABLE audit_log;
DROP TABLE changes;
DROP TABLE pairings;
DROP TABLE rejected_ops;
DROP TABLE devices;
DROP TABLE badges;
DROP TABLE preregistrations;
DROP TABLE visit_events;
DROP TABLE visits;
DROP TABLE hosts;
DROP TABLE locations;
DROP TABLE tenants;
