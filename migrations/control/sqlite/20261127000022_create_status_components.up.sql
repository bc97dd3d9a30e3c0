CREATE TABLE status_components (
    component   TEXT      NOT NULL PRIMARY KEY,
    ok          BOOLEAN   NOT NULL,
    checked_at  TIMESTAMP NOT NULL,
    changed_at  TIMESTAMP NOT NULL,
    last_minute INTEGER   NOT NULL
)
