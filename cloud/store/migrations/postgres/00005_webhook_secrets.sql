-- +goose Up
-- Standard Webhooks signing secrets, per tenant. Kept out of the tenant
-- settings on purpose: settings travel down to every kiosk, secrets never
-- leave the cloud. A rotated secret keeps working until expires_at.
CREATE TABLE webhook_secrets (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    key        BYTEA NOT NULL,
    hint       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX webhook_secrets_tenant ON webhook_secrets (tenant_id);

-- +goose Down
DROP TABLE webhook_secrets;
