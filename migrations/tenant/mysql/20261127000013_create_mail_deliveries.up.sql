CREATE TABLE mail_deliveries (
    event_id   VARCHAR(128)  NOT NULL,
    recipient  VARCHAR(254)  NOT NULL,
    event_type VARCHAR(64)   NOT NULL,
    is_copy    BOOLEAN       NOT NULL,
    lang       VARCHAR(8)    NOT NULL,
    status     VARCHAR(8)    NOT NULL,
    message_id VARCHAR(255)  NOT NULL,
    attempts   INT           NOT NULL,
    error      VARCHAR(1000) NOT NULL,
    created_at DATETIME(6)   NOT NULL,
    updated_at DATETIME(6)   NOT NULL,
    sent_at    DATETIME(6)   NULL,
    PRIMARY KEY (event_id, recipient),
    KEY mail_deliveries_created (created_at),
    KEY mail_deliveries_status (status, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
