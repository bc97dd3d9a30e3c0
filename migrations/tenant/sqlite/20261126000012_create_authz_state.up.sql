CREATE TABLE authz_state (
    id         INTEGER   NOT NULL PRIMARY KEY,
    version    TEXT      NOT NULL,
    updated_at TIMESTAMP NULL
)
