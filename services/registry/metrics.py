"""The registry's Prometheus metrics (names are relied on by alerts and dashboards)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from services.registry.domain.statistics import Facts
from services.registry.store import contracts as store
from shared.service import Runtime

TURNOVER = Counter(
    "techex_registry_turnover_fen", "Technology transaction amount registered, in fen",
    ["province", "category"])
"""Exposed as ``techex_registry_turnover_fen_total``; amendments that raise the amount add
the difference, cancellations are not taken back (a counter only grows)."""
PENDING = Gauge("techex_registry_filings_pending", "Filings awaiting a registrar's decision")
OVERDUE = Gauge("techex_registry_filings_overdue", "Filings past their decision deadline")


def count_turnover(added: tuple[Facts, int] | None) -> None:
    """What a committed registration added to the turnover (nothing: None)."""
    if added is not None:
        facts, amount = added
        TURNOVER.labels(facts.seller_region[:2] + "0000", facts.category).inc(amount)


async def refresh_gauges(runtime: Runtime) -> None:
    pending, overdue = await store.pending_counts(runtime.pool, runtime.clock.now())
    PENDING.set(pending)
    OVERDUE.set(overdue)
