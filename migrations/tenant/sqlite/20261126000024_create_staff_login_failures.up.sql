CREATE TABLE staff_login_failures (
    id     INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    source TEXT      NOT NULL,
    at     TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX staff_login_failures_source ON staff_login_failures (source, at);
--bun:split
CREATE INDEX staff_login_failures_at ON staff_login_failures (at)
