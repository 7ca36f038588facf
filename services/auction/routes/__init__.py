"""The auction service over HTTP, a module per resource: auctions, their bids and live stream,
listing trades, notices; the public API (``/public/...``, no token); and the forwarding of a
request to the process that writes its auction."""
