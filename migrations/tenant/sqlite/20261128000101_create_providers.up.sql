CREATE TABLE providers (
    id         TEXT      NOT NULL PRIMARY KEY,
    name       TEXT      NOT NULL,
    staff_id   TEXT      NULL REFERENCES staff (id) ON DELETE SET NULL,
    active     BOOLEAN   NOT NULL,
    position   INTEGER   NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX providers_position ON providers (position, id);
--bun:split
CREATE INDEX providers_staff ON providers (staff_id)
