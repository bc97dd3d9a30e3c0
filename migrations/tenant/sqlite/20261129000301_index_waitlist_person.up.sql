CREATE UNIQUE INDEX waitlist_entries_person ON waitlist_entries (slot_id, person_key)
