CREATE TABLE member_tokens (
    token_hash CHAR(64)    NOT NULL PRIMARY KEY,
    member_id  VARCHAR(32) NOT NULL,
    purpose    VARCHAR(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6) NULL,
    KEY member_tokens_member (member_id),
    CONSTRAINT member_tokens_member_fk FOREIGN KEY (member_id) REFERENCES members (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
