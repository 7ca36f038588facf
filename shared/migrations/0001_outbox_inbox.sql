-- Plumbing every service carries: the transactional outbox, the consumer inbox, idempotency keys.

-- Outbox rows use Debezium's outbox column names (id, aggregatetype, aggregateid, type, payload),
-- so a CDC connector could replace the relay without a schema change.
CREATE TABLE outbox (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            uuid        NOT NULL UNIQUE,
    aggregatetype text        NOT NULL,
    aggregateid   text        NOT NULL,
    type          text        NOT NULL,
    payload       jsonb       NOT NULL,
    region        text        NOT NULL,
    source        text        NOT NULL,
    traceparent   text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- One row per (consumer, event) claimed in the handler's own transaction: a redelivered event
-- finds its row and is skipped. status 'dead' marks events sent to the dead-letter topic.
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    event_id    text        NOT NULL,
    event_type  text        NOT NULL,
    status      text        NOT NULL DEFAULT 'handled' CHECK (status IN ('handled', 'dead')),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- The first result of a command, kept per Idempotency-Key so a retry gets the same answer.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status       integer,
    body         jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
