"""``<prefix>.public.catalog``: published, withdrawn and traded listings, and the
announcements and results of procedures."""
