CREATE TABLE idempotency_keys (
    scope        TEXT      NOT NULL,
    idem_key     TEXT      NOT NULL,
    request_hash TEXT      NOT NULL,
    status       INTEGER   NOT NULL,
    headers      TEXT      NOT NULL,
    body         BLOB      NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, idem_key)
)
