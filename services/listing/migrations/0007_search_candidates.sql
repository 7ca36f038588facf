-- A ranked search ranks the newest matches only (services/listing/store/search.py), found
-- window by window back from now: listings are appended as they are published, so a block
-- range summary of published_at narrows the text index's matches to the recent part of the
-- table for next to nothing (a b-tree range costs ~30 ms for 80,000 entries). Only
-- published_at >= … is asked of it; a range whose rows are of mixed ages is just read.
CREATE INDEX achievements_published ON achievements USING brin (published_at);

-- The page's rows are then read by id, partners' listings too, whatever their origin (their
-- key is (origin, id)).
CREATE INDEX partner_listings_id ON partner_listings (id);
