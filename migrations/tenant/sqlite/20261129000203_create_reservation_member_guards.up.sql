CREATE TABLE reservation_member_guards (
    member_id TEXT    NOT NULL PRIMARY KEY,
    bookings  INTEGER NOT NULL DEFAULT 0
)
