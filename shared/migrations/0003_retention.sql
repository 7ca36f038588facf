-- Idempotency keys keep the exact answer they replay (status, media type, headers, body bytes).
-- Keys and inbox rows are swept after their retention (shared/retention.py): the BRIN indexes
-- on their creation times cost next to nothing on insert and let the sweep find the old rows.
ALTER TABLE idempotency_keys
    ADD COLUMN media_type text,
    ADD COLUMN headers    jsonb,
    ADD COLUMN response   bytea;

CREATE INDEX idempotency_keys_created_at ON idempotency_keys USING brin (created_at);
CREATE INDEX inbox_received_at ON inbox USING brin (received_at);
