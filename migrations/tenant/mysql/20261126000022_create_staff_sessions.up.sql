CREATE TABLE staff_sessions (
    id              VARCHAR(32)  NOT NULL PRIMARY KEY,
    token_hash      CHAR(64)     NOT NULL,
    staff_id        VARCHAR(32)  NOT NULL,
    second_factor   BOOLEAN      NOT NULL,
    csrf_secret     CHAR(64)     NOT NULL,
    source_ip       VARCHAR(45)  NOT NULL,
    user_agent      VARCHAR(512) NOT NULL,
    created_at      DATETIME(6)  NOT NULL,
    last_seen_at    DATETIME(6)  NOT NULL,
    idle_seconds    INT          NOT NULL,
    idle_expires_at DATETIME(6)  NOT NULL,
    expires_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY staff_sessions_token (token_hash),
    KEY staff_sessions_staff (staff_id),
    KEY staff_sessions_expires (expires_at),
    KEY staff_sessions_idle (idle_expires_at),
    CONSTRAINT staff_sessions_staff_fk FOREIGN KEY (staff_id) REFERENCES staff (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
