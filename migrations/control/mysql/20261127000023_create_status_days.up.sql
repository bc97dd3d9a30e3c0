CREATE TABLE status_days (
    component     VARCHAR(32) NOT NULL,
    day           CHAR(10)    NOT NULL,
    ok_minutes    INT         NOT NULL,
    total_minutes INT         NOT NULL,
    PRIMARY KEY (component, day),
    KEY status_days_day (day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
