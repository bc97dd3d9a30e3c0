CREATE INDEX audit_entries_at ON audit_entries (at);
--bun:split
CREATE INDEX audit_entries_action ON audit_entries (action);
--bun:split
CREATE INDEX audit_entries_actor ON audit_entries (actor_id);
--bun:split
CREATE INDEX audit_entries_object ON audit_entries (object_type, object_id);
--bun:split
CREATE INDEX audit_entries_request ON audit_entries (request_id)
