CREATE TABLE menu_resources (
    menu_id     TEXT    NOT NULL REFERENCES menus (id) ON DELETE CASCADE,
    resource_id TEXT    NOT NULL REFERENCES resources (id) ON DELETE RESTRICT,
    quantity    INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (menu_id, resource_id),
    CHECK (quantity >= 1)
);
--bun:split
CREATE INDEX menu_resources_resource ON menu_resources (resource_id)
