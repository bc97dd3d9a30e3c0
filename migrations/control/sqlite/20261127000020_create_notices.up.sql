CREATE TABLE notices (
    id           TEXT      NOT NULL PRIMARY KEY,
    kind         TEXT      NOT NULL,
    title        TEXT      NOT NULL,
    body         TEXT      NOT NULL,
    starts_at    TIMESTAMP NOT NULL,
    ends_at      TIMESTAMP NULL,
    all_tenants  BOOLEAN   NOT NULL,
    urgent       BOOLEAN   NOT NULL,
    revision     INTEGER   NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    withdrawn_at TIMESTAMP NULL,
    announced_at TIMESTAMP NULL
);
--bun:split
CREATE INDEX notices_starts_at ON notices (starts_at);
--bun:split
CREATE INDEX notices_ends_at ON notices (ends_at)
