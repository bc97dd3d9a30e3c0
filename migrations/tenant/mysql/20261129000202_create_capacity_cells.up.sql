CREATE TABLE capacity_cells (
    owner_kind VARCHAR(16) NOT NULL,
    owner_id   VARCHAR(64) NOT NULL,
    cell_start BIGINT      NOT NULL,
    used       INT         NOT NULL DEFAULT 0,
    PRIMARY KEY (owner_kind, owner_id, cell_start),
    CONSTRAINT capacity_cells_used CHECK (used >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
