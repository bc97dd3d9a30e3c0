CREATE TABLE audit_chain (
    id          INT      NOT NULL PRIMARY KEY,
    seq         BIGINT   NOT NULL,
    last_hash   CHAR(64) NOT NULL,
    anchor_seq  BIGINT   NOT NULL,
    anchor_hash CHAR(64) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
