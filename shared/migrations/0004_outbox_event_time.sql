-- When each event happened on the producing service's clock, sent as its CloudEvents time
-- (created_at stays the wall-clock time of the write, for the outbox's age). Rows written
-- before this column existed have none and are sent with their created_at.
ALTER TABLE outbox ADD COLUMN occurred_at timestamptz;
