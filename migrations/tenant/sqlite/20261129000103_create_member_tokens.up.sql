CREATE TABLE member_tokens (
    token_hash TEXT      NOT NULL PRIMARY KEY,
    member_id  TEXT      NOT NULL REFERENCES members (id),
    purpose    TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP NULL
);
--bun:split
CREATE INDEX member_tokens_member ON member_tokens (member_id)
