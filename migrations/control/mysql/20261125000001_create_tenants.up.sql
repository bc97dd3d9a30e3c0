CREATE TABLE tenants (
    id                VARCHAR(36)  NOT NULL PRIMARY KEY,
    slug              VARCHAR(30)  NOT NULL,
    name              VARCHAR(200) NOT NULL,
    time_zone         VARCHAR(64)  NOT NULL,
    locale            VARCHAR(8)   NOT NULL,
    status            VARCHAR(16)  NOT NULL,
    contact_emails    TEXT         NOT NULL,
    options           TEXT         NOT NULL,
    db_server         VARCHAR(64)  NOT NULL,
    db_name           VARCHAR(64)  NOT NULL,
    created_at        DATETIME(6)  NOT NULL,
    updated_at        DATETIME(6)  NOT NULL,
    status_changed_at DATETIME(6)  NOT NULL,
    UNIQUE KEY tenants_slug (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
