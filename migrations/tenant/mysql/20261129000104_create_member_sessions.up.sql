CREATE TABLE member_sessions (
    id              VARCHAR(32)  NOT NULL PRIMARY KEY,
    token_hash      CHAR(64)     NOT NULL,
    member_id       VARCHAR(32)  NOT NULL,
    csrf_secret     CHAR(64)     NOT NULL,
    source_ip       VARCHAR(45)  NOT NULL,
    user_agent      VARCHAR(512) NOT NULL,
    created_at      DATETIME(6)  NOT NULL,
    last_seen_at    DATETIME(6)  NOT NULL,
    idle_seconds    INT          NOT NULL,
    idle_expires_at DATETIME(6)  NOT NULL,
    expires_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY member_sessions_token (token_hash),
    KEY member_sessions_member (member_id),
    KEY member_sessions_expires (expires_at),
    CONSTRAINT member_sessions_member_fk FOREIGN KEY (member_id) REFERENCES members (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
