CREATE INDEX calendar_occupancy_provider ON calendar_occupancy (provider_id, starts_at)
