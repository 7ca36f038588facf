-- The public face (issue 14): the technology field of a listing, for the public lists of
-- procedures (filled from ListingCreated / ListingPublished); and the name and contact of whoever
-- objects to a notice without an account, kept apart from the published objection: only the
-- notice's operators read them.
ALTER TABLE listings ADD COLUMN field text;

CREATE TABLE notice_objectors (
    objection_id uuid PRIMARY KEY REFERENCES notice_objections (id),
    name         text NOT NULL,
    contact      text NOT NULL
);

-- The public lists, newest first (keyset pages).
CREATE INDEX auctions_public ON auctions (announce_at DESC, id DESC);
CREATE INDEX listing_trades_public ON listing_trades (announced_at DESC, id DESC);
CREATE INDEX notices_public ON notices (published_at DESC, id DESC);
