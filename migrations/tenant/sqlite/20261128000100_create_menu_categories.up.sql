CREATE TABLE menu_categories (
    id         TEXT      NOT NULL PRIMARY KEY,
    name_ja    TEXT      NOT NULL,
    name_en    TEXT      NOT NULL DEFAULT '',
    position   INTEGER   NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX menu_categories_position ON menu_categories (position, id)
