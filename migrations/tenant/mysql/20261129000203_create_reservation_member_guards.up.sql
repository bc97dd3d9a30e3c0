CREATE TABLE reservation_member_guards (
    member_id VARCHAR(64) NOT NULL PRIMARY KEY,
    bookings  BIGINT      NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
