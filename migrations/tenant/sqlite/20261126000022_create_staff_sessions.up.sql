CREATE TABLE staff_sessions (
    id              TEXT      NOT NULL PRIMARY KEY,
    token_hash      TEXT      NOT NULL,
    staff_id        TEXT      NOT NULL REFERENCES staff (id),
    second_factor   BOOLEAN   NOT NULL,
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
CREATE UNIQUE INDEX staff_sessions_token ON staff_sessions (token_hash);
--bun:split
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
--bun:split
CREATE INDEX staff_sessions_expires ON staff_sessions (expires_at);
--bun:split
CREATE INDEX staff_sessions_idle ON staff_sessions (idle_expires_at)
