CREATE TABLE tenant_info (
    tenant_id  TEXT      NOT NULL PRIMARY KEY,
    created_at TIMESTAMP NOT NULL
)
