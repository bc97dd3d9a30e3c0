CREATE TABLE staff (
    id                  TEXT      NOT NULL PRIMARY KEY,
    email               TEXT      NOT NULL,
    display_name        TEXT      NOT NULL,
    status              TEXT      NOT NULL,
    role                TEXT      NOT NULL,
    menu_ids            TEXT      NOT NULL,
    password_hash       TEXT      NOT NULL,
    password_changed_at TIMESTAMP NULL,
    failed_logins       INTEGER   NOT NULL DEFAULT 0,
    locked_until        TIMESTAMP NULL,
    last_login_at       TIMESTAMP NULL,
    totp_secret         TEXT      NOT NULL DEFAULT '',
    totp_pending        TEXT      NOT NULL DEFAULT '',
    totp_enabled_at     TIMESTAMP NULL,
    totp_last_step      INTEGER   NOT NULL DEFAULT 0,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
--bun:split
CREATE UNIQUE INDEX staff_email ON staff (email)
