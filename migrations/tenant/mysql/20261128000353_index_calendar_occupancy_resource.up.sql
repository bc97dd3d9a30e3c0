CREATE INDEX calendar_occupancy_resource ON calendar_occupancy (resource_id, starts_at)
