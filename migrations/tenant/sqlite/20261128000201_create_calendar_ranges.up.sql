CREATE TABLE calendar_ranges (
    owner_kind   TEXT    NOT NULL,
    owner_id     TEXT    NOT NULL,
    day          TEXT    NOT NULL,
    pos          INTEGER NOT NULL,
    start_minute INTEGER NOT NULL,
    end_minute   INTEGER NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, day, pos)
)
