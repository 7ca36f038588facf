"""The settlement service's Prometheus metrics (names are relied on by alerts and dashboards)."""

from __future__ import annotations

import asyncpg
from prometheus_client import Counter, Gauge

from services.settlement import ledger_store

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


async def refresh(db: asyncpg.Pool | asyncpg.Connection) -> None:
    """Set the gauges from the database (the ledger for deposits, the deals for overdue)."""
    DEPOSITS_HELD.set(await ledger_store.deposits_held_fen(db))
    OVERDUE.set(await db.fetchval(
        "SELECT count(*) FROM deals WHERE status = 'open' AND overdue_since IS NOT NULL"))

