CREATE TABLE settings (
    name       TEXT      NOT NULL PRIMARY KEY,
    value      TEXT      NOT NULL,
    updated_at TIMESTAMP NOT NULL
)
