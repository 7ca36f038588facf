CREATE TABLE achievements (
    id          uuid PRIMARY KEY,
    title       text        NOT NULL,
    abstract    text        NOT NULL DEFAULT '',
    region      char(6)     NOT NULL,
    seller_id   text        NOT NULL,
    status      text        NOT NULL DEFAULT 'draft',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX achievements_region ON achievements (region);
