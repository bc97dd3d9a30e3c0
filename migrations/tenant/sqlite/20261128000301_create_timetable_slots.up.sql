CREATE TABLE timetable_slots (
    id          TEXT      NOT NULL PRIMARY KEY,
    menu_id     TEXT      NOT NULL REFERENCES menus (id) ON DELETE RESTRICT,
    series_id   TEXT      NULL REFERENCES slot_series (id) ON DELETE RESTRICT,
    starts_at   TIMESTAMP NOT NULL,
    ends_at     TIMESTAMP NOT NULL,
    capacity    INTEGER   NOT NULL,
    booked      INTEGER   NOT NULL DEFAULT 0,
    provider_id TEXT      NULL REFERENCES providers (id) ON DELETE SET NULL,
    resource_id TEXT      NULL REFERENCES resources (id) ON DELETE SET NULL,
    closed      BOOLEAN   NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CHECK (capacity >= 1 AND booked >= 0 AND booked <= capacity AND ends_at > starts_at)
);
--bun:split
CREATE INDEX timetable_slots_menu_starts ON timetable_slots (menu_id, starts_at);
--bun:split
CREATE INDEX timetable_slots_starts ON timetable_slots (starts_at);
--bun:split
CREATE INDEX timetable_slots_series ON timetable_slots (series_id, starts_at)
