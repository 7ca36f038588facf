"""All of the listing service's SQL: one module per aggregate (achievements; demands with their
proposals and the buyers' interests) and the read side (search, matching)."""
