CREATE TABLE ip_allowlist_state (
    id         INTEGER   NOT NULL PRIMARY KEY,
    version    TEXT      NOT NULL,
    updated_at TIMESTAMP NULL,
    updated_by TEXT      NOT NULL
)
