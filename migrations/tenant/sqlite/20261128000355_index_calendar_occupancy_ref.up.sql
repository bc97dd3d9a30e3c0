CREATE INDEX calendar_occupancy_ref ON calendar_occupancy (kind, ref_id)
