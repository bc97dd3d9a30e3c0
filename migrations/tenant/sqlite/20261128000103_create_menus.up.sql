CREATE TABLE menus (
    id                TEXT      NOT NULL PRIMARY KEY,
    category_id       TEXT      NULL REFERENCES menu_categories (id) ON DELETE SET NULL,
    name_ja           TEXT      NOT NULL,
    name_en           TEXT      NOT NULL DEFAULT '',
    description_ja    TEXT      NOT NULL DEFAULT '',
    description_en    TEXT      NOT NULL DEFAULT '',
    duration_minutes  INTEGER   NOT NULL,
    price             INTEGER   NOT NULL,
    capacity          INTEGER   NOT NULL,
    party_min         INTEGER   NOT NULL,
    party_max         INTEGER   NOT NULL,
    booking_mode      TEXT      NOT NULL,
    approval_required BOOLEAN   NOT NULL,
    visibility        TEXT      NOT NULL,
    position          INTEGER   NOT NULL DEFAULT 0,
    archived_at       TIMESTAMP NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    CHECK (duration_minutes > 0 AND capacity >= 1 AND price >= 0 AND party_min >= 1 AND party_max >= party_min)
);
--bun:split
CREATE INDEX menus_position ON menus (position, id);
--bun:split
CREATE INDEX menus_category ON menus (category_id)
