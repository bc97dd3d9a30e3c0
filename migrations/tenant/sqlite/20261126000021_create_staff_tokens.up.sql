CREATE TABLE staff_tokens (
    token_hash TEXT      NOT NULL PRIMARY KEY,
    staff_id   TEXT      NOT NULL REFERENCES staff (id),
    purpose    TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP NULL
);
--bun:split
CREATE INDEX staff_tokens_staff ON staff_tokens (staff_id);
--bun:split
CREATE INDEX staff_tokens_expires ON staff_tokens (expires_at)
