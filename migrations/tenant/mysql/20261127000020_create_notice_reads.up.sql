CREATE TABLE notice_reads (
    staff_id  VARCHAR(36) NOT NULL,
    notice_id VARCHAR(36) NOT NULL,
    read_at   DATETIME(6) NOT NULL,
    PRIMARY KEY (staff_id, notice_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
