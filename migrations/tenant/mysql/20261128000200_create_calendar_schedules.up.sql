CREATE TABLE calendar_schedules (
    owner_kind    VARCHAR(16)  NOT NULL,
    owner_id      VARCHAR(64)  NOT NULL,
    custom_weekly BOOLEAN      NOT NULL,
    holiday_hours BOOLEAN      NOT NULL,
    updated_at    DATETIME(6)  NOT NULL,
    updated_by    VARCHAR(255) NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
