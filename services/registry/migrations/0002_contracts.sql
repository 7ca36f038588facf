-- What a contract draft is pre-filled with, from the listing service's events.
ALTER TABLE listings
    ADD COLUMN tech_field text,
    ADD COLUMN ip_type    text,
    ADD COLUMN ip_numbers text[] NOT NULL DEFAULT '{}',
    ADD COLUMN holders    jsonb  NOT NULL DEFAULT '[]';

-- Registrars as they first act: a two-digit code per region, assigned in order of first use.
CREATE TABLE registrars (
    region     char(6)     NOT NULL,
    subject    text        NOT NULL,
    code       smallint    NOT NULL CHECK (code BETWEEN 1 AND 99),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (region, subject),
    UNIQUE (region, code)
);

-- One technology contract: a draft, then filed, registered or refused, possibly cancelled.
-- The stat_* columns are the facts the statistics count (set when registered).
CREATE TABLE contracts (
    id                  uuid PRIMARY KEY,
    deal_id             uuid UNIQUE,
    listing_id          uuid,
    seller_id           text        NOT NULL,
    region              char(6)     NOT NULL,
    status              text        NOT NULL
        CHECK (status IN ('draft', 'filed', 'registered', 'refused', 'cancelled')),
    terms               jsonb       NOT NULL,
    registration_number char(16) UNIQUE,
    registrar_region    char(6),
    registrar_code      smallint,
    registered_at       timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    stat_year           smallint,
    stat_month          smallint,
    buyer_region        char(6),
    category            text,
    tech_field          text,
    entity_type         text,
    ip_type             text,
    cross_border        boolean,
    tech_amount_fen     bigint
);
CREATE INDEX contracts_drafts ON contracts (seller_id) WHERE status = 'draft';
CREATE INDEX contracts_region ON contracts (region, status);

-- Each filing of a contract (the original, amendments, cancellations) and its decision.
CREATE TABLE filings (
    id          uuid PRIMARY KEY,
    contract_id uuid        NOT NULL REFERENCES contracts (id),
    kind        text        NOT NULL CHECK (kind IN ('original', 'amendment', 'cancellation')),
    status      text        NOT NULL CHECK (status IN ('filed', 'registered', 'refused')),
    region      char(6)     NOT NULL,
    terms       jsonb,
    reason      text        NOT NULL DEFAULT '',
    filed_by    text        NOT NULL,
    filed_at    timestamptz NOT NULL,
    due_at      timestamptz NOT NULL,
    decided_by  text,
    decided_at  timestamptz,
    reasons     jsonb
);
-- At most one filing of a contract awaits a decision.
CREATE UNIQUE INDEX filings_one_pending ON filings (contract_id) WHERE status = 'filed';
CREATE INDEX filings_pending_due ON filings (due_at) WHERE status = 'filed';

-- Gap-free sequence of registration numbers per registrar and year (see domain/numbers.py).
CREATE TABLE registration_counters (
    year           smallint NOT NULL,
    region         char(6)  NOT NULL,
    registrar_code smallint NOT NULL,
    last           integer  NOT NULL,
    PRIMARY KEY (year, region, registrar_code)
);

-- Rollups kept in the registering transaction (see domain/statistics.py); month 0 = year.
CREATE TABLE contract_stats (
    region     char(6)  NOT NULL,
    year       smallint NOT NULL,
    month      smallint NOT NULL CHECK (month BETWEEN 0 AND 12),
    dimension  text     NOT NULL,
    key        text     NOT NULL,
    parent     char(6),
    contracts  bigint   NOT NULL,
    amount_fen bigint   NOT NULL,
    PRIMARY KEY (region, year, month, dimension, key)
);
CREATE INDEX contract_stats_children ON contract_stats (parent, year, month, dimension);
