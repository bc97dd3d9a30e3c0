CREATE TABLE ip_allowlist (
    pos      INTEGER NOT NULL PRIMARY KEY,
    cidr     TEXT    NOT NULL UNIQUE,
    note     TEXT    NOT NULL
)
