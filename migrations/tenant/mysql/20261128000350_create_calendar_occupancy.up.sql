CREATE TABLE calendar_occupancy (
    id          VARCHAR(32)  NOT NULL PRIMARY KEY,
    kind        VARCHAR(16)  NOT NULL,
    ref_id      VARCHAR(64)  NOT NULL,
    starts_at   DATETIME(6)  NOT NULL,
    ends_at     DATETIME(6)  NOT NULL,
    menu_id     VARCHAR(32)  NULL,
    provider_id VARCHAR(64)  NULL,
    resource_id VARCHAR(64)  NULL,
    quantity    INT          NOT NULL DEFAULT 0,
    seats       INT          NOT NULL DEFAULT 0,
    reason      VARCHAR(500) NOT NULL DEFAULT '',
    created_by  VARCHAR(255) NOT NULL DEFAULT '',
    created_at  DATETIME(6)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
