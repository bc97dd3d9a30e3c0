CREATE TABLE authz_state (
    id         INT         NOT NULL PRIMARY KEY,
    version    VARCHAR(32) NOT NULL,
    updated_at DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
