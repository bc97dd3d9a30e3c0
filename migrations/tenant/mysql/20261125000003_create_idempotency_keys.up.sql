CREATE TABLE idempotency_keys (
    scope        VARCHAR(100)  NOT NULL,
    idem_key     VARCHAR(255)  NOT NULL,
    request_hash CHAR(64)      NOT NULL,
    status       INT           NOT NULL,
    headers      TEXT          NOT NULL,
    body         MEDIUMBLOB    NOT NULL,
    created_at   DATETIME(6)   NOT NULL,
    PRIMARY KEY (scope, idem_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
