CREATE TABLE roles (
    name       TEXT      NOT NULL PRIMARY KEY,
    label      TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
)
