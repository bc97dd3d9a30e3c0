CREATE INDEX calendar_occupancy_starts ON calendar_occupancy (starts_at, ends_at)
