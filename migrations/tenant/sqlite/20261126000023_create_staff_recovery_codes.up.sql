CREATE TABLE staff_recovery_codes (
    staff_id   TEXT      NOT NULL REFERENCES staff (id),
    code_hash  TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP NULL,
    PRIMARY KEY (staff_id, code_hash)
)
