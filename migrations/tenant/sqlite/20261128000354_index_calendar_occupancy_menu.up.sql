CREATE INDEX calendar_occupancy_menu ON calendar_occupancy (menu_id, starts_at)
