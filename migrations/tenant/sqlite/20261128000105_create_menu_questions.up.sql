CREATE TABLE menu_questions (
    id          TEXT    NOT NULL PRIMARY KEY,
    menu_id     TEXT    NOT NULL REFERENCES menus (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    label_ja    TEXT    NOT NULL,
    label_en    TEXT    NOT NULL DEFAULT '',
    choices     TEXT    NOT NULL,
    requirement TEXT    NOT NULL,
    position    INTEGER NOT NULL
);
--bun:split
CREATE INDEX menu_questions_menu ON menu_questions (menu_id, position)
