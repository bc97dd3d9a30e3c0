CREATE TABLE menu_rules (
    menu_id                 TEXT      NOT NULL PRIMARY KEY REFERENCES menus (id) ON DELETE CASCADE,
    opens_days_before       INTEGER   NOT NULL,
    closes_minutes_before   INTEGER   NOT NULL,
    closes_in_business_days BOOLEAN   NOT NULL,
    closes_business_days    INTEGER   NOT NULL,
    cancel_deadline_minutes INTEGER   NOT NULL,
    change_deadline_minutes INTEGER   NOT NULL,
    max_per_member          INTEGER   NOT NULL,
    max_per_member_period   TEXT      NOT NULL,
    updated_at              TIMESTAMP NOT NULL
)
