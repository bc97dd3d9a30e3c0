CREATE TABLE mail_deliveries (
    event_id   TEXT      NOT NULL,
    recipient  TEXT      NOT NULL,
    event_type TEXT      NOT NULL,
    is_copy    INTEGER   NOT NULL,
    lang       TEXT      NOT NULL,
    status     TEXT      NOT NULL,
    message_id TEXT      NOT NULL,
    attempts   INTEGER   NOT NULL,
    error      TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    sent_at    TIMESTAMP NULL,
    PRIMARY KEY (event_id, recipient)
);
--bun:split
CREATE INDEX mail_deliveries_created ON mail_deliveries (created_at);
--bun:split
CREATE INDEX mail_deliveries_status ON mail_deliveries (status, updated_at)
