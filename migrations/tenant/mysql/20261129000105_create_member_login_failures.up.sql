CREATE TABLE member_login_failures (
    id     BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    source VARCHAR(64) NOT NULL,
    at     DATETIME(6) NOT NULL,
    KEY member_login_failures_source (source, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
