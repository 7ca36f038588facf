"""The settlement service's Prometheus metrics (names are relied on by alerts and dashboards)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge

from services.settlement.store import Db, deals, ledger
from shared.events import Event
from shared.events.settlement import SettlementCompleted, SubsidyAssessed

SETTLED = Counter(
    "techex_settlement_settled_fen",
    "Received amounts (实际到账金额, fen) of completed settlements, by province code",
    ["province"])
DEPOSITS_HELD = Gauge(
    "techex_settlement_deposits_held_fen", "Deposits the exchange holds, in fen (from the ledger)")
OVERDUE = Gauge(
    "techex_settlement_overdue_payments", "Open deals with a payment overdue")
SUBSIDIES = Counter(
    "techex_settlement_subsidies_assessed_fen",
    "Subsidies granted by assessments of completed settlements, fen, by province code",
    ["province"])


def province_of(region: str) -> str:
    return region[:2] + "0000"


def count(events: Iterable[Event]) -> None:
    """The business counters of what a handler published: completions and subsidies granted."""
    for e in events:
        if isinstance(e, SettlementCompleted):
            SETTLED.labels(province_of(e.region)).inc(e.received_fen)
        elif isinstance(e, SubsidyAssessed) and e.amount_fen:
            SUBSIDIES.labels(province_of(e.region)).inc(e.amount_fen)


async def refresh(db: Db) -> None:
    """Set the gauges from the database (the ledger for deposits, the deals for overdue)."""
    DEPOSITS_HELD.set(await ledger.deposits_held_fen(db))
    OVERDUE.set(await deals.overdue_count(db))
