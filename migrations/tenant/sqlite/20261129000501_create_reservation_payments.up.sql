CREATE TABLE reservation_payments (
    reservation_id VARCHAR(32)  NOT NULL PRIMARY KEY,
    plugin_id      VARCHAR(64)  NOT NULL,
    payment_id     VARCHAR(255) NOT NULL,
    amount         BIGINT       NOT NULL,
    refunded       BIGINT       NOT NULL,
    state          VARCHAR(16)  NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
)
