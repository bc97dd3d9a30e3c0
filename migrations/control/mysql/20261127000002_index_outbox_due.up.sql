-- The MySQL index is created with the table in 20261127000001, and this
-- version exists so that both engines share one list of versions.
SELECT 1
