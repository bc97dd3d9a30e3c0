CREATE TABLE member_counters (
    name  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
)
