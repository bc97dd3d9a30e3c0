CREATE INDEX outbox_due_at ON outbox_due (due_at)
