INSERT INTO ip_allowlist_state (id, version, updated_at, updated_by) VALUES (1, '', NULL, '')
