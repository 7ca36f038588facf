-- Auctions and their bid sequence. One process owns an auction at a time: it holds a lease
-- (owner, lease_until) and every batch it writes is fenced by owner_epoch, so a process that
-- lost its lease (paused, partitioned) can no longer append to the sequence.
CREATE TABLE auctions (
    id                uuid PRIMARY KEY,
    listing_id        uuid        NOT NULL,
    seller_id         text        NOT NULL,
    region            char(6)     NOT NULL,
    start_price_fen   bigint      NOT NULL CHECK (start_price_fen > 0),
    increment_fen     bigint      NOT NULL CHECK (increment_fen > 0),
    reserve_fen       bigint,
    deposit_ratio     numeric(5, 4) NOT NULL,
    announce_at       timestamptz NOT NULL,
    starts_at         timestamptz NOT NULL,
    original_ends_at  timestamptz NOT NULL,
    extension_seconds integer     NOT NULL DEFAULT 300,
    round             integer     NOT NULL DEFAULT 1,
    previous_id       uuid,
    -- derived from the bids, kept for reads and for the close deadline
    ends_at           timestamptz NOT NULL,
    high_bid_fen      bigint,
    high_bidder       text,
    bid_count         integer     NOT NULL DEFAULT 0,
    status            text        NOT NULL DEFAULT 'announced',
    failure           text,
    closed_at         timestamptz,
    -- ownership
    owner             text,
    owner_epoch       bigint      NOT NULL DEFAULT 0,
    lease_until       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bids (
    auction_id uuid        NOT NULL REFERENCES auctions (id),
    seq        integer     NOT NULL,
    bidder_id  text        NOT NULL,
    amount_fen bigint      NOT NULL,
    at         timestamptz NOT NULL,
    automatic  boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (auction_id, seq)
);

CREATE TABLE bidders (
    auction_id    uuid        NOT NULL REFERENCES auctions (id),
    bidder_id     text        NOT NULL,
    registered_at timestamptz NOT NULL,
    qualified_at  timestamptz,
    PRIMARY KEY (auction_id, bidder_id)
);

-- Proxy maxima are private: kept here, never in an event.
CREATE TABLE proxies (
    auction_id uuid        NOT NULL REFERENCES auctions (id),
    bidder_id  text        NOT NULL,
    max_fen    bigint      NOT NULL,
    set_order  integer     NOT NULL,
    set_at     timestamptz NOT NULL,
    PRIMARY KEY (auction_id, bidder_id)
);
