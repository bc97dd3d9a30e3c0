CREATE TABLE notice_reads (
    staff_id  TEXT      NOT NULL,
    notice_id TEXT      NOT NULL,
    read_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (staff_id, notice_id)
)
