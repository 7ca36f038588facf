"""All SQL of the registry service, one module per aggregate or read model: ``contracts``
(contracts, their filings, registrars and their number counters), ``listings`` (what the
service knows of listings) and ``rollups`` (the regional statistics)."""
