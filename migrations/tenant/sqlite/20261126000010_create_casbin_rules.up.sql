CREATE TABLE casbin_rules (
    id    INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    ptype TEXT    NOT NULL,
    v0    TEXT    NOT NULL DEFAULT '',
    v1    TEXT    NOT NULL DEFAULT '',
    v2    TEXT    NOT NULL DEFAULT '',
    v3    TEXT    NOT NULL DEFAULT '',
    v4    TEXT    NOT NULL DEFAULT '',
    v5    TEXT    NOT NULL DEFAULT '',
    UNIQUE (ptype, v0, v1, v2, v3, v4, v5)
)
