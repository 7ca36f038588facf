"""All SQL of the records service: the archive, its digests, certificates and procedures."""
