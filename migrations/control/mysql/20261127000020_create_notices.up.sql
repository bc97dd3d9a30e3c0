CREATE TABLE notices (
    id           VARCHAR(36)  NOT NULL PRIMARY KEY,
    kind         VARCHAR(20)  NOT NULL,
    title        VARCHAR(200) NOT NULL,
    body         TEXT         NOT NULL,
    starts_at    DATETIME(6)  NOT NULL,
    ends_at      DATETIME(6)  NULL,
    all_tenants  BOOLEAN      NOT NULL,
    urgent       BOOLEAN      NOT NULL,
    revision     INT          NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    updated_at   DATETIME(6)  NOT NULL,
    withdrawn_at DATETIME(6)  NULL,
    announced_at DATETIME(6)  NULL,
    KEY notices_starts_at (starts_at),
    KEY notices_ends_at (ends_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
