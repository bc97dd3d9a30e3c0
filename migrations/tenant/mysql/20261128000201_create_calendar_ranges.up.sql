CREATE TABLE calendar_ranges (
    owner_kind   VARCHAR(16) NOT NULL,
    owner_id     VARCHAR(64) NOT NULL,
    day          VARCHAR(10) NOT NULL,
    pos          INT         NOT NULL,
    start_minute INT         NOT NULL,
    end_minute   INT         NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, day, pos)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
