CREATE TABLE capacity_cells (
    owner_kind TEXT    NOT NULL,
    owner_id   TEXT    NOT NULL,
    cell_start INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner_kind, owner_id, cell_start),
    CHECK (used >= 0)
)
