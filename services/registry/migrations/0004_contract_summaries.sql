-- The public summaries of technology contracts (shared.events.public.contracts): this
-- deployment's own, written with each registration, and its partners', read from their
-- mirrored public topics. One row per contract across deployments (contract_key), at its
-- highest revision; a cancelled one stays (so an older revision arriving late cannot bring it
-- back) but counts nowhere. Cross-province flows and the national hub's figures read them.
CREATE TABLE contract_summaries (
    contract_key        text        PRIMARY KEY,
    origin              char(6)     NOT NULL,
    registration_number char(16)    NOT NULL,
    revision            integer     NOT NULL CHECK (revision >= 1),
    status              text        NOT NULL CHECK (status IN ('registered', 'cancelled')),
    received_from       text,       -- the partner's alias; null: this deployment's own
    year                smallint    NOT NULL,
    month               smallint    NOT NULL CHECK (month BETWEEN 1 AND 12),
    seller_region       char(6)     NOT NULL,
    buyer_region        char(6),
    seller_province     char(6)     NOT NULL,
    buyer_province      char(6),
    cross_border        boolean     NOT NULL,
    category            text        NOT NULL,
    tech_field          text        NOT NULL,
    total_amount_fen    bigint      NOT NULL,
    tech_amount_fen     bigint      NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX contract_summaries_by_seller ON contract_summaries (year, seller_province, month)
    WHERE status = 'registered';
CREATE INDEX contract_summaries_by_buyer ON contract_summaries (year, buyer_province, month)
    WHERE status = 'registered';

-- The contracts registered before summaries were kept: their origin is the seller's province
-- (a deployment registers the contracts of its own province's sellers).
INSERT INTO contract_summaries
SELECT left(c.region, 2) || '0000-' || c.registration_number, left(c.region, 2) || '0000',
       c.registration_number,
       (SELECT count(*) FROM filings f WHERE f.contract_id = c.id AND f.status = 'registered'),
       c.status, NULL, c.stat_year, c.stat_month, c.region, c.buyer_region,
       left(c.region, 2) || '0000',
       CASE WHEN c.buyer_region IS NULL THEN NULL ELSE left(c.buyer_region, 2) || '0000' END,
       c.cross_border, c.category, c.tech_field,
       coalesce((c.terms ->> 'total_amount_fen')::bigint, c.tech_amount_fen), c.tech_amount_fen,
       c.updated_at
FROM contracts c
WHERE c.registration_number IS NOT NULL AND c.status IN ('registered', 'cancelled')
  AND c.stat_year IS NOT NULL;
