INSERT INTO mail_settings (id, sender_name, reply_to, copy_events, updated_at) VALUES (1, '', '', '[]', NULL)
