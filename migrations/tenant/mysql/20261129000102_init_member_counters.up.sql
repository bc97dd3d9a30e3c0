INSERT INTO member_counters (name, value) VALUES ('member_number', 0)
