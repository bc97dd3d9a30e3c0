CREATE TABLE payment_webhook_events (
    event_id       VARCHAR(255) NOT NULL PRIMARY KEY,
    reservation_id VARCHAR(32)  NOT NULL,
    kind           VARCHAR(16)  NOT NULL,
    received_at    DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
