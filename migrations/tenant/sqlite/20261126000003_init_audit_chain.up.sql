INSERT INTO audit_chain (id, seq, last_hash, anchor_seq, anchor_hash) VALUES (1, 0, '', 0, '')
