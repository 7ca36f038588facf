-- The end of a published listing's period is a deadline (kind listing-expiry, key the listing
-- id) scheduled when it is published, no longer found by a periodic sweep. Listings published
-- before this change get theirs here: those already past their end fire at once.
INSERT INTO deadlines (kind, key, due_at)
SELECT 'listing-expiry', id::text, expires_at
FROM achievements
WHERE status = 'published' AND expires_at IS NOT NULL
ON CONFLICT (kind, key) WHERE fired_at IS NULL DO NOTHING;
