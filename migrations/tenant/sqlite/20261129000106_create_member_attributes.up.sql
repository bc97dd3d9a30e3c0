CREATE TABLE member_attributes (
    id          TEXT      NOT NULL PRIMARY KEY,
    label_ja    TEXT      NOT NULL,
    label_en    TEXT      NOT NULL DEFAULT '',
    kind        TEXT      NOT NULL,
    requirement TEXT      NOT NULL,
    choices     TEXT      NOT NULL,
    position    INTEGER   NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
)
