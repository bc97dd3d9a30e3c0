CREATE TABLE slot_series (
    id          TEXT      NOT NULL PRIMARY KEY,
    menu_id     TEXT      NOT NULL REFERENCES menus (id) ON DELETE RESTRICT,
    freq        TEXT      NOT NULL,
    weekdays    TEXT      NOT NULL DEFAULT '',
    nth         INTEGER   NOT NULL DEFAULT 0,
    weekday     TEXT      NOT NULL DEFAULT '',
    start_minute INTEGER  NOT NULL,
    time_zone   TEXT      NOT NULL,
    from_date   TEXT      NOT NULL,
    until_date  TEXT      NOT NULL DEFAULT '',
    count       INTEGER   NOT NULL DEFAULT 0,
    capacity    INTEGER   NOT NULL,
    provider_id TEXT      NULL REFERENCES providers (id) ON DELETE SET NULL,
    resource_id TEXT      NULL REFERENCES resources (id) ON DELETE SET NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CHECK (capacity >= 1 AND start_minute >= 0 AND start_minute < 1440)
);
--bun:split
CREATE INDEX slot_series_menu ON slot_series (menu_id)
