-- The two other pricing routes: listing trades (挂牌交易) and negotiated deals with public notice
-- (协议定价 + 公示).
--
-- Each procedure is one row (its terms and the scalar part of its state) plus rows for what
-- accumulates (buyers and bids, objections). A command locks the procedure row
-- (SELECT ... FOR UPDATE), rebuilds the domain object from the rows, applies the domain and
-- writes the difference back with its outbox events in one transaction; a restarted process
-- therefore rebuilds exactly the state it left. Columns marked "derived" are kept for reads
-- and queries only: loading never trusts them.

CREATE TABLE listing_trades (
    id                     uuid PRIMARY KEY,
    listing_id             uuid        NOT NULL,
    seller_id              text        NOT NULL,
    region                 char(6)     NOT NULL,
    announced_by           text        NOT NULL,
    -- terms
    listed_price_fen       bigint      NOT NULL CHECK (listed_price_fen > 0),
    increment_fen          bigint      NOT NULL CHECK (increment_fen > 0),
    deposit_fen            bigint      NOT NULL CHECK (deposit_fen >= 0),
    announced_at           timestamptz NOT NULL,
    working_days           integer     NOT NULL CHECK (working_days > 0),
    extension_working_days integer     NOT NULL CHECK (extension_working_days > 0),
    max_extensions         integer     NOT NULL CHECK (max_extensions >= 0),
    free_quote_seconds     integer     NOT NULL CHECK (free_quote_seconds > 0),
    countdown_seconds      integer     NOT NULL CHECK (countdown_seconds > 0),
    -- state
    status                 text        NOT NULL DEFAULT 'announced'
                           CHECK (status IN ('announced', 'bidding', 'closed', 'failed')),
    last_day               date        NOT NULL,  -- last working day of the current cycle
    extensions             integer     NOT NULL DEFAULT 0,
    bidding_opens_at       timestamptz,           -- start of the free-quote period
    failure                text,
    closed_at              timestamptz,
    -- derived
    period_ends_at         timestamptz NOT NULL,
    bidding_ends_at        timestamptz,
    high_bid_fen           bigint,
    bid_count              integer     NOT NULL DEFAULT 0,
    winner_id              text,
    price_fen              bigint,
    created_at             timestamptz NOT NULL DEFAULT now()
);

-- One running listing trade per listing (a failed one may be followed by a new one).
CREATE UNIQUE INDEX listing_trades_running ON listing_trades (listing_id)
    WHERE status IN ('announced', 'bidding');

-- Intended buyers (意向受让方): registered, then qualified by their confirmed deposit.
CREATE TABLE listing_trade_buyers (
    trade_id      uuid        NOT NULL REFERENCES listing_trades (id),
    bidder_id     text        NOT NULL,
    registered_at timestamptz NOT NULL,
    qualified_at  timestamptz,
    PRIMARY KEY (trade_id, bidder_id)
);

-- The accepted bids of the online bidding, in order; never updated or deleted.
CREATE TABLE listing_trade_bids (
    trade_id   uuid        NOT NULL REFERENCES listing_trades (id),
    seq        integer     NOT NULL CHECK (seq > 0),
    bidder_id  text        NOT NULL,
    amount_fen bigint      NOT NULL CHECK (amount_fen > 0),
    at         timestamptz NOT NULL,
    PRIMARY KEY (trade_id, seq)
);

CREATE TABLE notices (
    id             uuid PRIMARY KEY,
    listing_id     uuid        NOT NULL,
    region         char(6)     NOT NULL,
    published_by   text        NOT NULL,
    -- terms, as published
    project_name   text        NOT NULL,
    abstract       text        NOT NULL,
    transfer_mode  text        NOT NULL,
    price_fen      bigint      NOT NULL CHECK (price_fen > 0),
    seller_id      text        NOT NULL,
    buyer_id       text        NOT NULL,
    buyer_name     text        NOT NULL,
    buyer_relation text        NOT NULL CHECK (buyer_relation IN ('none', 'inventor',
                                                                  'related_party')),
    published_at   timestamptz NOT NULL,
    days           integer     NOT NULL,
    min_days       integer     NOT NULL,
    inventors      text[]      NOT NULL DEFAULT '{}',
    -- state
    status         text        NOT NULL DEFAULT 'published'
                   CHECK (status IN ('published', 'concluded', 'failed')),
    closed_at      timestamptz,
    -- derived
    ends_at        timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX notices_running ON notices (listing_id) WHERE status = 'published';

-- Objections (异议) and their outcomes, in the order they were filed.
CREATE TABLE notice_objections (
    id          uuid PRIMARY KEY,
    notice_id   uuid        NOT NULL REFERENCES notices (id),
    seq         integer     NOT NULL,
    filed_by    text        NOT NULL,
    grounds     text        NOT NULL,
    filed_at    timestamptz NOT NULL,
    outcome     text        CHECK (outcome IN ('upheld', 'dismissed')),
    reason      text,
    resolved_by text,
    resolved_at timestamptz,
    UNIQUE (notice_id, seq)
);
