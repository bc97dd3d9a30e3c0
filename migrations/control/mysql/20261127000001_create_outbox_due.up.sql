CREATE TABLE outbox_due (
    tenant_id VARCHAR(36) NOT NULL PRIMARY KEY,
    due_at    DATETIME(6) NOT NULL,
    KEY outbox_due_at (due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
