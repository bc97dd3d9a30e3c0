CREATE TABLE member_attributes (
    id          VARCHAR(32)  NOT NULL PRIMARY KEY,
    label_ja    VARCHAR(100) NOT NULL,
    label_en    VARCHAR(100) NOT NULL DEFAULT '',
    kind        VARCHAR(16)  NOT NULL,
    requirement VARCHAR(16)  NOT NULL,
    choices     TEXT         NOT NULL,
    position    INT          NOT NULL DEFAULT 0,
    created_at  DATETIME(6)  NOT NULL,
    updated_at  DATETIME(6)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
