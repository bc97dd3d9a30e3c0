-- The MySQL indexes are created with the table in 20261129000200, and this
-- version exists so that both engines share one list of versions.
SELECT 1
