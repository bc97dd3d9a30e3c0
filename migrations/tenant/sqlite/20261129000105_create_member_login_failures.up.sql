CREATE TABLE member_login_failures (
    id     INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    source TEXT      NOT NULL,
    at     TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX member_login_failures_source ON member_login_failures (source, at)
