"""The records service's Prometheus metrics (names are relied on by alerts and dashboards)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from services.records.store import archive, digests
from shared.service import Runtime

ARCHIVED = Counter("techex_records_archived", "Events appended to the archive", ["topic"])
"""Exposed as ``techex_records_archived_total``."""
CHAIN_LENGTH = Gauge("techex_records_chain_length", "Rows in the archive's hash chain")
ARCHIVE_DELAY = Histogram(
    "techex_records_archive_delay_seconds",
    "From an event's time to its row in the archive (the archive's lag behind the exchange)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600))
DIGEST = Gauge("techex_records_digest", "The last published daily digest: its chain row",
               ["day", "head"])
"""One series, the latest day: ``head`` is the chain's SHA-256 at the end of ``day``
(refreshed from the database with the other gauges, so every instance shows it)."""
CERTIFICATES = Counter("techex_records_certificates", "Certificates issued", ["kind"])
CANCELLED = Counter("techex_records_certificates_cancelled", "Certificates cancelled", ["kind"])


def show_digest(day: str, seq: int, head: str) -> None:
    DIGEST.clear()
    DIGEST.labels(day, head).set(seq)


async def refresh_gauges(runtime: Runtime) -> None:
    """The chain's length and the last digest, from the database: every instance shows the
    same, whichever published the digest."""
    seq, _ = await archive.head(runtime.pool)
    CHAIN_LENGTH.set(seq)
    latest = await digests.listing(runtime.pool, 1, None)
    if latest:
        row = latest[0]
        show_digest(row["day"].isoformat(), row["seq"], bytes(row["head"]).hex())
