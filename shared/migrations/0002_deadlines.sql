-- Durable deadlines (auction end and its extensions, notice periods, deposit releases, listing
-- expiry, registration deadlines), fired by shared/scheduler.py in the same transaction as their
-- effect. A row is pending while fired_at IS NULL; fired with last_error NULL means its handler
-- succeeded, fired with last_error set means it was given up after its attempts ("dead").

CREATE TABLE deadlines (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text        NOT NULL,
    key        text        NOT NULL,
    due_at     timestamptz NOT NULL,
    payload    jsonb       NOT NULL DEFAULT '{}',
    fired_at   timestamptz,
    attempts   integer     NOT NULL DEFAULT 0,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- At most one pending deadline per (kind, key): scheduling it again moves it (anti-sniping
-- extends an auction's end). Fired rows stay as history and do not block a new one.
CREATE UNIQUE INDEX deadlines_pending_kind_key ON deadlines (kind, key) WHERE fired_at IS NULL;

-- What the scheduler asks: the pending rows in due order.
CREATE INDEX deadlines_pending_due_at ON deadlines (due_at) WHERE fired_at IS NULL;
