CREATE TABLE menu_providers (
    menu_id     VARCHAR(32) NOT NULL,
    provider_id VARCHAR(32) NOT NULL,
    position    INT         NOT NULL,
    PRIMARY KEY (menu_id, provider_id),
    KEY menu_providers_provider (provider_id),
    CONSTRAINT menu_providers_menu_fk FOREIGN KEY (menu_id) REFERENCES menus (id) ON DELETE CASCADE,
    CONSTRAINT menu_providers_provider_fk FOREIGN KEY (provider_id) REFERENCES providers (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
