CREATE INDEX waitlist_entries_line ON waitlist_entries (slot_id, status, created_at, id)
