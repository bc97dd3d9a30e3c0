CREATE TABLE mail_settings (
    id          INTEGER   NOT NULL PRIMARY KEY,
    sender_name TEXT      NOT NULL,
    reply_to    TEXT      NOT NULL,
    copy_events TEXT      NOT NULL,
    updated_at  TIMESTAMP NULL
)
