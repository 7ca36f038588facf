-- Bid numbers (竞买号): each bidder of a procedure is shown by a number of its own, drawn at
-- random when it registers (services/auction/domain/anonymity.py), unique in the procedure and
-- never given to another bidder of it. Bidders registered before get numbers in random order.
ALTER TABLE bidders ADD COLUMN number integer CHECK (number > 0);
ALTER TABLE listing_trade_buyers ADD COLUMN number integer CHECK (number > 0);

UPDATE bidders b SET number = n.number
FROM (SELECT auction_id, bidder_id,
             row_number() OVER (PARTITION BY auction_id ORDER BY random()) AS number
      FROM bidders) n
WHERE b.auction_id = n.auction_id AND b.bidder_id = n.bidder_id;

UPDATE listing_trade_buyers b SET number = n.number
FROM (SELECT trade_id, bidder_id,
             row_number() OVER (PARTITION BY trade_id ORDER BY random()) AS number
      FROM listing_trade_buyers) n
WHERE b.trade_id = n.trade_id AND b.bidder_id = n.bidder_id;

ALTER TABLE bidders ALTER COLUMN number SET NOT NULL,
    ADD CONSTRAINT bidders_number UNIQUE (auction_id, number);
ALTER TABLE listing_trade_buyers ALTER COLUMN number SET NOT NULL,
    ADD CONSTRAINT listing_trade_buyers_number UNIQUE (trade_id, number);
