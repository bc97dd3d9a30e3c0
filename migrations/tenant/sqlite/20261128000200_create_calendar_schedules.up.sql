CREATE TABLE calendar_schedules (
    owner_kind    TEXT      NOT NULL,
    owner_id      TEXT      NOT NULL,
    custom_weekly BOOLEAN   NOT NULL,
    holiday_hours BOOLEAN   NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    updated_by    TEXT      NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
)
