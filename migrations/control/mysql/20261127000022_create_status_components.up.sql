CREATE TABLE status_components (
    component   VARCHAR(32) NOT NULL PRIMARY KEY,
    ok          BOOLEAN     NOT NULL,
    checked_at  DATETIME(6) NOT NULL,
    changed_at  DATETIME(6) NOT NULL,
    last_minute BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
