CREATE UNIQUE INDEX reservations_number ON reservations (number)
--bun:split
CREATE UNIQUE INDEX reservations_request_key ON reservations (request_key)
--bun:split
CREATE INDEX reservations_starts ON reservations (starts_at)
--bun:split
CREATE INDEX reservations_menu_starts ON reservations (menu_id, starts_at)
--bun:split
CREATE INDEX reservations_member_starts ON reservations (member_id, starts_at)
--bun:split
CREATE INDEX reservations_slot ON reservations (slot_id)
--bun:split
CREATE INDEX reservations_provider_starts ON reservations (provider_id, starts_at)
