CREATE TABLE tenants (
    id                TEXT      NOT NULL PRIMARY KEY,
    slug              TEXT      NOT NULL UNIQUE,
    name              TEXT      NOT NULL,
    time_zone         TEXT      NOT NULL,
    locale            TEXT      NOT NULL,
    status            TEXT      NOT NULL,
    contact_emails    TEXT      NOT NULL,
    options           TEXT      NOT NULL,
    db_server         TEXT      NOT NULL,
    db_name           TEXT      NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    status_changed_at TIMESTAMP NOT NULL
)
