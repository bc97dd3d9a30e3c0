CREATE TABLE menu_categories (
    id         VARCHAR(32)  NOT NULL PRIMARY KEY,
    name_ja    VARCHAR(200) NOT NULL,
    name_en    VARCHAR(200) NOT NULL DEFAULT '',
    position   INT          NOT NULL DEFAULT 0,
    created_at DATETIME(6)  NOT NULL,
    updated_at DATETIME(6)  NOT NULL,
    KEY menu_categories_position (position, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
