CREATE TABLE calendar_occupancy (
    id          TEXT      NOT NULL PRIMARY KEY,
    kind        TEXT      NOT NULL,
    ref_id      TEXT      NOT NULL,
    starts_at   TIMESTAMP NOT NULL,
    ends_at     TIMESTAMP NOT NULL,
    menu_id     TEXT      NULL,
    provider_id TEXT      NULL,
    resource_id TEXT      NULL,
    quantity    INTEGER   NOT NULL DEFAULT 0,
    seats       INTEGER   NOT NULL DEFAULT 0,
    reason      TEXT      NOT NULL DEFAULT '',
    created_by  TEXT      NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL
)
