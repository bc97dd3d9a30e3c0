CREATE TABLE audit_entries (
    seq         INTEGER   NOT NULL PRIMARY KEY,
    at          TIMESTAMP NOT NULL,
    actor_kind  TEXT      NOT NULL,
    actor_id    TEXT      NOT NULL,
    actor_name  TEXT      NOT NULL,
    actor_role  TEXT      NOT NULL,
    action      TEXT      NOT NULL,
    object_type TEXT      NOT NULL,
    object_id   TEXT      NOT NULL,
    changes     TEXT      NOT NULL,
    source_ip   TEXT      NOT NULL,
    user_agent  TEXT      NOT NULL,
    request_id  TEXT      NOT NULL,
    result      TEXT      NOT NULL,
    prev_hash   TEXT      NOT NULL,
    hash        TEXT      NOT NULL
)
