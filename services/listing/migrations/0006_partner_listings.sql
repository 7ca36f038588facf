-- Partners' published achievements (the public catalog of other deployments, read from their
-- mirrored <alias>.techex.public.catalog): one row per (origin, listing) holding the highest
-- revision seen, so an older revision arriving late changes nothing. A withdrawn or traded
-- listing keeps its row (a tombstone with its revision) and leaves the search.
CREATE TABLE partner_listings (
    origin              text        NOT NULL,
    id                  uuid        NOT NULL,
    revision            integer     NOT NULL,
    status              text        NOT NULL,   -- published | in_transaction | withdrawn | traded
    region              char(6)     NOT NULL,
    path                text        NOT NULL,
    title               text        NOT NULL DEFAULT '',
    abstract            text        NOT NULL DEFAULT '',
    field               text,
    industry            text        NOT NULL DEFAULT '',
    keywords            text[]      NOT NULL DEFAULT '{}',
    ip_type             text,
    trl                 smallint    CHECK (trl BETWEEN 1 AND 9),
    holders             jsonb       NOT NULL DEFAULT '[]',
    transfer_mode       text,
    pricing_route       text,
    reference_price_fen bigint      CHECK (reference_price_fen >= 0),
    seller_id           text        NOT NULL DEFAULT '',
    published_at        timestamptz,            -- NULL until its content was seen
    expires_at          timestamptz,
    updated_at          timestamptz NOT NULL,
    title_words         text        NOT NULL DEFAULT '',
    keyword_words       text        NOT NULL DEFAULT '',
    abstract_words      text        NOT NULL DEFAULT '',
    search_vector       tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', title_words), 'A') ||
        setweight(to_tsvector('simple', keyword_words), 'B') ||
        setweight(to_tsvector('simple', abstract_words), 'C')
    ) STORED,
    PRIMARY KEY (origin, id)
);
CREATE INDEX partner_listings_search ON partner_listings USING gin (search_vector);
CREATE INDEX partner_listings_newest ON partner_listings (status, published_at DESC, id DESC);
