CREATE TABLE menu_resources (
    menu_id     VARCHAR(32) NOT NULL,
    resource_id VARCHAR(32) NOT NULL,
    quantity    INT         NOT NULL,
    position    INT         NOT NULL,
    PRIMARY KEY (menu_id, resource_id),
    KEY menu_resources_resource (resource_id),
    CONSTRAINT menu_resources_menu_fk FOREIGN KEY (menu_id) REFERENCES menus (id) ON DELETE CASCADE,
    CONSTRAINT menu_resources_resource_fk FOREIGN KEY (resource_id) REFERENCES resources (id) ON DELETE RESTRICT,
    CONSTRAINT menu_resources_quantity CHECK (quantity >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
