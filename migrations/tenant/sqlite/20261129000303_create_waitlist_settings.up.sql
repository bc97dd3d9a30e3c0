CREATE TABLE waitlist_settings (
    id           INTEGER   NOT NULL PRIMARY KEY,
    hold_minutes INTEGER   NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    CHECK (id = 1 AND hold_minutes >= 5)
)
