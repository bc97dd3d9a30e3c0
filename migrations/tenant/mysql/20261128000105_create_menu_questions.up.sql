CREATE TABLE menu_questions (
    id          VARCHAR(32)  NOT NULL PRIMARY KEY,
    menu_id     VARCHAR(32)  NOT NULL,
    kind        VARCHAR(24)  NOT NULL,
    label_ja    VARCHAR(500) NOT NULL,
    label_en    VARCHAR(500) NOT NULL DEFAULT '',
    choices     TEXT         NOT NULL,
    requirement VARCHAR(16)  NOT NULL,
    position    INT          NOT NULL,
    KEY menu_questions_menu (menu_id, position),
    CONSTRAINT menu_questions_menu_fk FOREIGN KEY (menu_id) REFERENCES menus (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
