-- The full achievement model, demands and proposals, buyers' saved interests, and the
-- segmented text that Chinese full-text search runs on.

ALTER TABLE achievements
    ADD COLUMN field               text     NOT NULL DEFAULT 'new_materials',
    ADD COLUMN industry            text     NOT NULL DEFAULT '',
    ADD COLUMN keywords            text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN ip_type             text     NOT NULL DEFAULT 'other',
    ADD COLUMN ip_numbers          text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN trl                 smallint NOT NULL DEFAULT 1 CHECK (trl BETWEEN 1 AND 9),
    ADD COLUMN holders             jsonb    NOT NULL DEFAULT '[]',
    ADD COLUMN inventors           text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN transfer_mode       text     NOT NULL DEFAULT 'transfer',
    ADD COLUMN pricing_route       text     NOT NULL DEFAULT 'auction',
    ADD COLUMN reference_price_fen bigint   CHECK (reference_price_fen >= 0),
    ADD COLUMN dual_use            boolean  NOT NULL DEFAULT false,
    ADD COLUMN public_welfare      boolean  NOT NULL DEFAULT false,
    ADD COLUMN cross_border        boolean  NOT NULL DEFAULT false,
    ADD COLUMN security_review     jsonb,
    ADD COLUMN reject_reason       text,
    ADD COLUMN published_at        timestamptz,
    ADD COLUMN expires_at          timestamptz,
    ADD COLUMN procedure_id        text,
    ADD COLUMN version             integer  NOT NULL DEFAULT 1,
    -- Words of the title, keywords and abstract as the segmenter cut them, space-separated:
    -- PostgreSQL's 'simple' configuration then indexes each word as it is.
    ADD COLUMN title_words         text     NOT NULL DEFAULT '',
    ADD COLUMN keyword_words       text     NOT NULL DEFAULT '',
    ADD COLUMN abstract_words      text     NOT NULL DEFAULT '';

ALTER TABLE achievements ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', title_words), 'A') ||
    setweight(to_tsvector('simple', keyword_words), 'B') ||
    setweight(to_tsvector('simple', abstract_words), 'C')
) STORED;

CREATE INDEX achievements_search ON achievements USING gin (search_vector);
CREATE INDEX achievements_status_region ON achievements (status, region);
CREATE INDEX achievements_seller ON achievements (seller_id, created_at DESC);
CREATE INDEX achievements_expiry ON achievements (expires_at) WHERE status = 'published';

CREATE TABLE demands (
    id               uuid PRIMARY KEY,
    enterprise_id    text        NOT NULL,
    region           char(6)     NOT NULL,
    title            text        NOT NULL,
    description      text        NOT NULL,
    field            text        NOT NULL,
    keywords         text[]      NOT NULL DEFAULT '{}',
    mode             text        NOT NULL,
    budget_fen       bigint      CHECK (budget_fen >= 0),
    min_trl          smallint    NOT NULL CHECK (min_trl BETWEEN 1 AND 9),
    deadline         timestamptz NOT NULL,
    status           text        NOT NULL DEFAULT 'open',
    awarded_proposal uuid,
    created_at       timestamptz NOT NULL,
    title_words      text        NOT NULL DEFAULT '',
    keyword_words    text        NOT NULL DEFAULT '',
    description_words text       NOT NULL DEFAULT '',
    search_vector    tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', title_words), 'A') ||
        setweight(to_tsvector('simple', keyword_words), 'B') ||
        setweight(to_tsvector('simple', description_words), 'C')
    ) STORED
);
CREATE INDEX demands_search ON demands USING gin (search_vector);
CREATE INDEX demands_status_region ON demands (status, region);

CREATE TABLE proposals (
    id          uuid PRIMARY KEY,
    demand_id   uuid        NOT NULL REFERENCES demands (id),
    provider_id text        NOT NULL,
    listing_id  uuid REFERENCES achievements (id),
    price_fen   bigint      CHECK (price_fen >= 0),
    summary     text        NOT NULL,
    created_at  timestamptz NOT NULL,
    UNIQUE (demand_id, provider_id)
);

-- A buyer's saved interest (精准推送): matched against every newly published listing.
CREATE TABLE interests (
    id            uuid PRIMARY KEY,
    buyer_id      text        NOT NULL,
    region        char(6)     NOT NULL,
    query         text        NOT NULL DEFAULT '',
    query_words   text[]      NOT NULL DEFAULT '{}',
    field         text,
    min_trl       smallint,
    max_price_fen bigint,
    created_at    timestamptz NOT NULL
);
CREATE INDEX interests_buyer ON interests (buyer_id);
