CREATE TABLE menu_rules (
    menu_id                 VARCHAR(32) NOT NULL PRIMARY KEY,
    opens_days_before       INT         NOT NULL,
    closes_minutes_before   INT         NOT NULL,
    closes_in_business_days BOOLEAN     NOT NULL,
    closes_business_days    INT         NOT NULL,
    cancel_deadline_minutes INT         NOT NULL,
    change_deadline_minutes INT         NOT NULL,
    max_per_member          INT         NOT NULL,
    max_per_member_period   VARCHAR(8)  NOT NULL,
    updated_at              DATETIME(6) NOT NULL,
    CONSTRAINT menu_rules_menu_fk FOREIGN KEY (menu_id) REFERENCES menus (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
