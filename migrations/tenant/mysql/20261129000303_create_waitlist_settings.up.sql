CREATE TABLE waitlist_settings (
    id           INT         NOT NULL PRIMARY KEY,
    hold_minutes INT         NOT NULL,
    updated_at   DATETIME(6) NOT NULL,
    CHECK (id = 1 AND hold_minutes >= 5)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
