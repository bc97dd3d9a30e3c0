CREATE TABLE menu_options (
    id            TEXT    NOT NULL PRIMARY KEY,
    menu_id       TEXT    NOT NULL REFERENCES menus (id) ON DELETE CASCADE,
    name_ja       TEXT    NOT NULL,
    name_en       TEXT    NOT NULL DEFAULT '',
    price         INTEGER NOT NULL,
    extra_minutes INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    CHECK (price >= 0 AND extra_minutes >= 0)
);
--bun:split
CREATE INDEX menu_options_menu ON menu_options (menu_id, position)
