INSERT INTO authz_state (id, version, updated_at) VALUES (1, '', NULL)
