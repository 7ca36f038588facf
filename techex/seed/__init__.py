"""Demonstration data for a running exchange (``bin/techex seed``, ``bin/techex demo``): the
listing seed (:mod:`techex.seed.listing`) and its vocabulary (:mod:`techex.seed.vocabulary`)."""
