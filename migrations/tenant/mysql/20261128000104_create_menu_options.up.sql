CREATE TABLE menu_options (
    id            VARCHAR(32)  NOT NULL PRIMARY KEY,
    menu_id       VARCHAR(32)  NOT NULL,
    name_ja       VARCHAR(200) NOT NULL,
    name_en       VARCHAR(200) NOT NULL DEFAULT '',
    price         BIGINT       NOT NULL,
    extra_minutes INT          NOT NULL,
    position      INT          NOT NULL,
    KEY menu_options_menu (menu_id, position),
    CONSTRAINT menu_options_menu_fk FOREIGN KEY (menu_id) REFERENCES menus (id) ON DELETE CASCADE,
    CONSTRAINT menu_options_numbers CHECK (price >= 0 AND extra_minutes >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
