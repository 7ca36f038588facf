-- Where the process that writes an auction can be reached, so another auction-service process
-- behind the same load balancer forwards a request for it there instead of refusing it.
ALTER TABLE auctions ADD COLUMN owner_url text;
