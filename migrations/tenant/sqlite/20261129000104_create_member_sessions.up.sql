CREATE TABLE member_sessions (
    id              TEXT      NOT NULL PRIMARY KEY,
    token_hash      TEXT      NOT NULL,
    member_id       TEXT      NOT NULL REFERENCES members (id),
    csrf_secret     TEXT      NOT NULL,
    source_ip       TEXT      NOT NULL,
    user_agent      TEXT      NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    last_seen_at    TIMESTAMP NOT NULL,
    idle_seconds    INTEGER   NOT NULL,
    idle_expires_at TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL
);
--bun:split
CREATE UNIQUE INDEX member_sessions_token ON member_sessions (token_hash);
--bun:split
CREATE INDEX member_sessions_member ON member_sessions (member_id);
--bun:split
CREATE INDEX member_sessions_expires ON member_sessions (expires_at)
