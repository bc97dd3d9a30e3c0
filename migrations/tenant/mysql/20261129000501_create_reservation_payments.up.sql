CREATE TABLE reservation_payments (
    reservation_id VARCHAR(32)  NOT NULL PRIMARY KEY,
    plugin_id      VARCHAR(64)  NOT NULL,
    payment_id     VARCHAR(255) NOT NULL,
    amount         BIGINT       NOT NULL,
    refunded       BIGINT       NOT NULL,
    state          VARCHAR(16)  NOT NULL,
    expires_at     DATETIME(6) NOT NULL,
    updated_at     DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
