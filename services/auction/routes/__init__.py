"""The auction service over HTTP, a module per resource: auctions, their bids and live stream,
listing trades, notices; and the forwarding of a request to the process that writes its
auction."""
