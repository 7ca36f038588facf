-- What the auction service needs to know of a listing before it may auction it.
ALTER TABLE listings
    ADD COLUMN status              text   NOT NULL DEFAULT 'draft',
    ADD COLUMN pricing_route       text,
    ADD COLUMN reference_price_fen bigint;
