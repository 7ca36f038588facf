-- What a service knows of the listings it may trade, fed by the listing service's events
-- (shared.known_listings). IF NOT EXISTS: databases made before this read model was shared
-- have the table from the service's own first migration.
CREATE TABLE IF NOT EXISTS listings (
    listing_id     uuid PRIMARY KEY,
    title          text        NOT NULL,
    region         char(6)     NOT NULL,
    seller_id      text        NOT NULL,
    created_at     timestamptz NOT NULL,
    events_applied integer     NOT NULL DEFAULT 1,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
