-- The double-entry ledger: an entry (journal posting) and its lines. Balances are never stored;
-- they are sums of lines. Lines are append-only and every entry must balance when its
-- transaction commits (a deferred constraint trigger checks each entry touched).
CREATE TABLE entries (
    entry_id   text PRIMARY KEY,
    memo       text        NOT NULL DEFAULT '',
    deal_id    uuid,
    posted_at  timestamptz NOT NULL,
    seq        bigserial   UNIQUE
);

CREATE TABLE lines (
    id         bigserial PRIMARY KEY,
    entry_id   text   NOT NULL REFERENCES entries (entry_id),
    account    text   NOT NULL,
    debit_fen  bigint NOT NULL DEFAULT 0 CHECK (debit_fen >= 0),
    credit_fen bigint NOT NULL DEFAULT 0 CHECK (credit_fen >= 0),
    CHECK ((debit_fen > 0) <> (credit_fen > 0))
);
CREATE INDEX lines_account ON lines (account, id);
CREATE INDEX lines_entry ON lines (entry_id);

CREATE FUNCTION entry_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d bigint;
    c bigint;
    n integer;
BEGIN
    SELECT coalesce(sum(debit_fen), 0), coalesce(sum(credit_fen), 0), count(*)
      INTO d, c, n FROM lines WHERE entry_id = NEW.entry_id;
    IF n < 2 OR d <> c THEN
        RAISE EXCEPTION 'entry % does not balance: % lines, debits % <> credits %',
            NEW.entry_id, n, d, c USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER lines_balance AFTER INSERT ON lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION entry_balances();

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER lines_append_only BEFORE UPDATE OR DELETE ON lines
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- What each registered bidder owes for a procedure (from BidderRegistered).
CREATE TABLE registrations (
    procedure_id  uuid        NOT NULL,
    bidder_id     text        NOT NULL,
    deposit_fen   bigint      NOT NULL CHECK (deposit_fen >= 0),
    region        char(6)     NOT NULL,
    registered_at timestamptz NOT NULL,
    PRIMARY KEY (procedure_id, bidder_id)
);

CREATE TABLE deposits (
    deposit_id     uuid PRIMARY KEY,
    procedure_id   uuid        NOT NULL,
    bidder_id      text        NOT NULL,
    amount_fen     bigint      NOT NULL CHECK (amount_fen > 0),
    region         char(6)     NOT NULL,
    status         text        NOT NULL DEFAULT 'held'
                   CHECK (status IN ('held', 'applied', 'released', 'forfeited')),
    bank_reference text,
    confirmed_at   timestamptz NOT NULL,
    deal_id        uuid,
    settled_at     timestamptz,
    UNIQUE (procedure_id, bidder_id)
);
CREATE INDEX deposits_held ON deposits (procedure_id) WHERE status = 'held';

CREATE TABLE deals (
    deal_id        uuid PRIMARY KEY,
    procedure_id   uuid        NOT NULL,
    listing_id     uuid        NOT NULL,
    route          text        NOT NULL,
    region         char(6)     NOT NULL,
    seller_id      text        NOT NULL,
    buyer_id       text        NOT NULL,
    price_fen      bigint      NOT NULL CHECK (price_fen > 0),
    buyer_fee_fen  bigint      NOT NULL CHECK (buyer_fee_fen >= 0),
    seller_fee_fen bigint      NOT NULL CHECK (seller_fee_fen >= 0),
    deposit_fen    bigint      NOT NULL DEFAULT 0 CHECK (deposit_fen >= 0),
    deposit_id     uuid,
    paid_fen       bigint      NOT NULL DEFAULT 0 CHECK (paid_fen >= 0),
    status         text        NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'completed', 'defaulted')),
    overdue_since  timestamptz,
    concluded_at   timestamptz NOT NULL,
    completed_at   timestamptz,
    defaulted_at   timestamptz,
    CHECK (deposit_fen + paid_fen <= price_fen + buyer_fee_fen)
);
CREATE INDEX deals_region ON deals (region);

-- The payment schedule: amounts the buyer pays on top of the deposit, cumulative by due date.
CREATE TABLE instalments (
    deal_id    uuid        NOT NULL REFERENCES deals (deal_id),
    n          integer     NOT NULL CHECK (n >= 1),
    due_at     timestamptz NOT NULL,
    amount_fen bigint      NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (deal_id, n)
);

CREATE TABLE payments (
    payment_id  uuid PRIMARY KEY,
    deal_id     uuid        NOT NULL REFERENCES deals (deal_id),
    amount_fen  bigint      NOT NULL CHECK (amount_fen > 0),
    source      text        NOT NULL CHECK (source IN ('operator', 'bank')),
    reference   text,
    received_at timestamptz NOT NULL
);
CREATE INDEX payments_deal ON payments (deal_id);

-- Bank callbacks applied, by the bank's reference: the second delivery gets the same answer.
CREATE TABLE bank_callbacks (
    reference   text PRIMARY KEY,
    kind        text        NOT NULL,
    result      jsonb       NOT NULL,
    received_at timestamptz NOT NULL
);

-- Per-seller inventor share of the net (收益分配); sellers not listed get the default.
CREATE TABLE seller_splits (
    seller_id      text PRIMARY KEY,
    inventor_share numeric(5, 4) NOT NULL CHECK (inventor_share BETWEEN 0 AND 1),
    set_by         text        NOT NULL,
    set_at         timestamptz NOT NULL
);

CREATE TABLE subsidy_assessments (
    assessment_id          uuid PRIMARY KEY,
    deal_id                uuid        NOT NULL REFERENCES deals (deal_id),
    policy_id              text        NOT NULL,
    project_id             text        NOT NULL,
    year                   integer     NOT NULL,
    side                   text        NOT NULL CHECK (side IN ('buyer', 'seller')),
    recipient_id           text        NOT NULL,
    region                 char(6)     NOT NULL,
    received_fen           bigint      NOT NULL,
    amount_fen             bigint      NOT NULL CHECK (amount_fen >= 0),
    commissioner_share_fen bigint      NOT NULL CHECK (commissioner_share_fen >= 0),
    reasons                jsonb       NOT NULL,
    assessed_at            timestamptz NOT NULL,
    UNIQUE (deal_id, side)
);
CREATE INDEX subsidy_assessments_project ON subsidy_assessments (policy_id, project_id, year);
