CREATE INDEX outbox_next ON outbox (status, next_at);
--bun:split
CREATE INDEX outbox_key ON outbox (event_type, dedup_key, status);
--bun:split
CREATE INDEX outbox_aggregate ON outbox (aggregate_type, aggregate_id)
