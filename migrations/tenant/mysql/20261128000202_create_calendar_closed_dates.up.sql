CREATE TABLE calendar_closed_dates (
    owner_kind VARCHAR(16) NOT NULL,
    owner_id   VARCHAR(64) NOT NULL,
    day        CHAR(10)    NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
