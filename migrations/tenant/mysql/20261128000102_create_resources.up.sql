CREATE TABLE resources (
    id         VARCHAR(32)  NOT NULL PRIMARY KEY,
    name       VARCHAR(200) NOT NULL,
    quantity   INT          NOT NULL,
    active     BOOLEAN      NOT NULL,
    position   INT          NOT NULL DEFAULT 0,
    created_at DATETIME(6)  NOT NULL,
    updated_at DATETIME(6)  NOT NULL,
    KEY resources_position (position, id),
    CONSTRAINT resources_quantity CHECK (quantity >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
