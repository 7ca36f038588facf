-- Push that reaches people: each account's notifications (one per account and cause), the
-- listings it watches, what the listing service follows of each procedure to tell bidders
-- they were outbid or that the end nears, the accounts behind objections, and the signed
-- webhooks with one delivery row per (webhook, notification).
CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    account_id  text NOT NULL,
    kind        text NOT NULL,
    cause       text NOT NULL,
    event_id    text,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    read_at     timestamptz,
    UNIQUE (account_id, cause)
);
CREATE INDEX notifications_account ON notifications (account_id, id);

CREATE TABLE watches (
    account_id  text NOT NULL,
    listing_id  uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (account_id, listing_id)
);
CREATE INDEX watches_listing ON watches (listing_id);

CREATE TABLE followed_procedures (
    procedure_id  uuid PRIMARY KEY,
    listing_id    uuid,
    ends_at       timestamptz,
    high_bidder   text,
    high_sequence integer NOT NULL DEFAULT 0,
    ended         boolean NOT NULL DEFAULT false,
    ending_told   boolean NOT NULL DEFAULT false
);

CREATE TABLE procedure_bidders (
    procedure_id  uuid NOT NULL,
    bidder_id     text NOT NULL,
    PRIMARY KEY (procedure_id, bidder_id)
);

CREATE TABLE objection_filers (
    objection_id  uuid PRIMARY KEY,
    procedure_id  uuid NOT NULL,
    account_id    text NOT NULL
);

CREATE TABLE webhooks (
    id          uuid PRIMARY KEY,
    account_id  text NOT NULL,
    url         text NOT NULL,
    secret      text NOT NULL,
    kinds       text[],
    created_at  timestamptz NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account_id);

CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    notification_id  bigint NOT NULL REFERENCES notifications (id),
    status           text NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_error       text,
    delivered_at     timestamptz,
    UNIQUE (webhook_id, notification_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
