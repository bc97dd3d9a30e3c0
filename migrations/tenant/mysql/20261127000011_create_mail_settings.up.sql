CREATE TABLE mail_settings (
    id          INT          NOT NULL PRIMARY KEY,
    sender_name VARCHAR(200) NOT NULL,
    reply_to    VARCHAR(254) NOT NULL,
    copy_events TEXT         NOT NULL,
    updated_at  DATETIME(6)  NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
