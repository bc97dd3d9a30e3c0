CREATE TABLE api_keys (
    id              TEXT      NOT NULL PRIMARY KEY,
    name            TEXT      NOT NULL,
    role            TEXT      NOT NULL,
    prefix          TEXT      NOT NULL,
    key_hash        TEXT      NOT NULL,
    created_by      TEXT      NOT NULL,
    created_by_name TEXT      NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    last_used_at    TIMESTAMP NULL,
    revoked_at      TIMESTAMP NULL
);
--bun:split
CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);
--bun:split
CREATE INDEX api_keys_created_at ON api_keys (created_at)
