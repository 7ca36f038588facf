"""The listing API, one module per resource: each route parses, authorises, runs a handler of
:mod:`services.listing.handlers` in ``runtime.transaction(once)`` (commands) or reads the store
(queries), and answers."""
