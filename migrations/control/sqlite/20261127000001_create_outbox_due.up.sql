CREATE TABLE outbox_due (
    tenant_id TEXT      NOT NULL PRIMARY KEY,
    due_at    TIMESTAMP NOT NULL
)
