CREATE TABLE menu_providers (
    menu_id     TEXT    NOT NULL REFERENCES menus (id) ON DELETE CASCADE,
    provider_id TEXT    NOT NULL REFERENCES providers (id) ON DELETE RESTRICT,
    position    INTEGER NOT NULL,
    PRIMARY KEY (menu_id, provider_id)
);
--bun:split
CREATE INDEX menu_providers_provider ON menu_providers (provider_id)
