CREATE TABLE calendar_closed_dates (
    owner_kind TEXT NOT NULL,
    owner_id   TEXT NOT NULL,
    day        TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, day)
)
