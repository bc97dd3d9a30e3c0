CREATE TABLE api_keys (
    id              VARCHAR(36)  NOT NULL PRIMARY KEY,
    name            VARCHAR(100) NOT NULL,
    role            VARCHAR(64)  NOT NULL,
    prefix          VARCHAR(16)  NOT NULL,
    key_hash        CHAR(64)     NOT NULL,
    created_by      VARCHAR(100) NOT NULL,
    created_by_name VARCHAR(255) NOT NULL,
    created_at      DATETIME(6)  NOT NULL,
    last_used_at    DATETIME(6)  NULL,
    revoked_at      DATETIME(6)  NULL,
    UNIQUE KEY api_keys_key_hash (key_hash),
    KEY api_keys_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
