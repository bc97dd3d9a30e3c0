CREATE TABLE audit_chain (
    id          INTEGER NOT NULL PRIMARY KEY,
    seq         INTEGER NOT NULL,
    last_hash   TEXT    NOT NULL,
    anchor_seq  INTEGER NOT NULL,
    anchor_hash TEXT    NOT NULL
)
