CREATE TABLE status_days (
    component     TEXT    NOT NULL,
    day           TEXT    NOT NULL,
    ok_minutes    INTEGER NOT NULL,
    total_minutes INTEGER NOT NULL,
    PRIMARY KEY (component, day)
);
--bun:split
CREATE INDEX status_days_day ON status_days (day)
