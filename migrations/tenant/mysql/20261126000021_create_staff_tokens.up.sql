CREATE TABLE staff_tokens (
    token_hash CHAR(64)    NOT NULL PRIMARY KEY,
    staff_id   VARCHAR(32) NOT NULL,
    purpose    VARCHAR(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6) NULL,
    KEY staff_tokens_staff (staff_id),
    KEY staff_tokens_expires (expires_at),
    CONSTRAINT staff_tokens_staff_fk FOREIGN KEY (staff_id) REFERENCES staff (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
