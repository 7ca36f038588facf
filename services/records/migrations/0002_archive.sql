-- The archive: every event as received, append-only, in one hash chain.
-- hash(n) = SHA-256(hash(n-1) || record(n)), hash(0) = 32 zero bytes; `record` holds the
-- event's canonical bytes (see services/records/domain/chain.py). The other columns are
-- read from the record when it is archived, for queries; `records verify` checks they agree.
CREATE TABLE archive (
    seq         bigint      PRIMARY KEY,
    hash        bytea       NOT NULL CHECK (length(hash) = 32),
    record      bytea       NOT NULL,
    event_id    text        NOT NULL UNIQUE,
    type        text        NOT NULL,
    source      text        NOT NULL,
    subject     text        NOT NULL,
    region      char(6)     NOT NULL,
    occurred_at timestamptz NOT NULL,
    topic       text        NOT NULL,
    origin      text,
    payload     jsonb       NOT NULL,
    refs        text[]      NOT NULL,
    archived_at timestamptz NOT NULL
);
CREATE INDEX archive_refs ON archive USING gin (refs);
CREATE INDEX archive_type_time ON archive (type, occurred_at);
CREATE INDEX archive_archived_at ON archive (archived_at);

-- The chain's head: one row, locked by each append, so appends are serial and gap-free.
CREATE TABLE chain_head (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq  bigint  NOT NULL,
    hash bytea   NOT NULL
);
INSERT INTO chain_head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: rows are never updated or deleted by the service. (Whoever can disable this
-- trigger can change rows; `records verify` and the published digests catch that.)
CREATE FUNCTION archive_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the archive is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER archive_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON archive
    FOR EACH STATEMENT EXECUTE FUNCTION archive_append_only();

-- The published daily digests (Asia/Shanghai days).
CREATE TABLE digests (
    day          date        PRIMARY KEY,
    seq          bigint      NOT NULL,
    head         bytea       NOT NULL,
    events       bigint      NOT NULL,
    digested_at  timestamptz NOT NULL
);

-- The exchange's signing key of the embedded default (outside it, RECORDS_SIGNING_KEY).
CREATE TABLE signing_key (
    id          boolean     PRIMARY KEY DEFAULT true CHECK (id),
    private_pem text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Certificates: numbered per kind, province and year.
CREATE TABLE certificate_serials (
    kind   text     NOT NULL,
    region char(6)  NOT NULL,
    year   smallint NOT NULL,
    last   integer  NOT NULL,
    PRIMARY KEY (kind, region, year)
);

CREATE TABLE certificates (
    number        text        PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('transaction', 'registration')),
    region        char(6)     NOT NULL,
    procedure_id  text,
    deal_id       text,
    contract_id   text,
    parties       text[]      NOT NULL DEFAULT '{}',
    essentials    jsonb       NOT NULL,
    signature     bytea       NOT NULL,
    -- The PDF is rendered after the certificate commits (it takes a while): kept with its
    -- SHA-256, then announced (CertificateIssued).
    pdf           bytea,
    pdf_sha256    text,
    issued_at     timestamptz NOT NULL,
    source_event  text        NOT NULL UNIQUE,
    cancelled_at  timestamptz,
    cancel_reason text
);
CREATE INDEX certificates_deal ON certificates (deal_id);
CREATE INDEX certificates_contract ON certificates (contract_id);
CREATE INDEX certificates_procedure ON certificates (procedure_id);
CREATE INDEX certificates_unrendered ON certificates (issued_at) WHERE pdf IS NULL;

-- The regulator's index of procedures, kept from the archived procedure events.
CREATE TABLE procedures (
    procedure_id text        PRIMARY KEY,
    listing_id   text,
    region       char(6)     NOT NULL,
    route        text,
    outcome      text        NOT NULL DEFAULT 'open'
                 CHECK (outcome IN ('open', 'concluded', 'failed', 'defaulted')),
    announced_at timestamptz,
    ended_at     timestamptz,
    price_fen    bigint,
    bids         integer     NOT NULL DEFAULT 0,
    objections   integer     NOT NULL DEFAULT 0
);
CREATE INDEX procedures_region ON procedures (region, announced_at);
