-- Indexes for search without text and for filtered search (services/listing/search.py).
-- Measured on 100,000 published achievements (bench/search.py).

-- Newest first with no text, or with loose filters: read the index in order, stop at a page;
-- the keyset (published_at, id) < (…) of the next page is an index condition too.
CREATE INDEX achievements_newest ON achievements (status, published_at DESC, id DESC);

-- A field within a region: the filter most searches carry. With a city range, the
-- (status, region) index alone visits every listing of the city (16 ms → 3.5 ms).
CREATE INDEX achievements_field_region ON achievements (status, field, region);

CREATE INDEX demands_newest ON demands (status, created_at DESC, id DESC);
