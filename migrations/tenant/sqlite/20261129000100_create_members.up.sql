CREATE TABLE members (
    id                TEXT      NOT NULL PRIMARY KEY,
    number            TEXT      NOT NULL,
    email             TEXT      NULL,
    status            TEXT      NOT NULL,
    password_hash     TEXT      NOT NULL DEFAULT '',
    family_name       TEXT      NOT NULL DEFAULT '',
    given_name        TEXT      NOT NULL DEFAULT '',
    family_kana       TEXT      NOT NULL DEFAULT '',
    given_kana        TEXT      NOT NULL DEFAULT '',
    phone             TEXT      NOT NULL DEFAULT '',
    postal_code       TEXT      NOT NULL DEFAULT '',
    prefecture        INTEGER   NOT NULL DEFAULT 0,
    address1          TEXT      NOT NULL DEFAULT '',
    address2          TEXT      NOT NULL DEFAULT '',
    birth_date        TEXT      NOT NULL DEFAULT '',
    gender            TEXT      NOT NULL DEFAULT '',
    search_text       TEXT      NOT NULL DEFAULT '',
    failed_logins     INTEGER   NOT NULL DEFAULT 0,
    locked_until      TIMESTAMP NULL,
    last_login_at     TIMESTAMP NULL,
    email_verified_at TIMESTAMP NULL,
    withdrawn_at      TIMESTAMP NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
--bun:split
CREATE UNIQUE INDEX members_number ON members (number);
--bun:split
CREATE UNIQUE INDEX members_email ON members (email)
