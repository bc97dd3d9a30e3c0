CREATE TABLE staff_login_failures (
    id     BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    source VARCHAR(64) NOT NULL,
    at     DATETIME(6) NOT NULL,
    KEY staff_login_failures_source (source, at),
    KEY staff_login_failures_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
