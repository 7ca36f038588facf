"""SQL that concerns the three pricing procedures alike: bid numbers, deadline locks, the
failure of a defaulted deal's procedure, and the counts behind the procedures gauge."""

from __future__ import annotations

import uuid
from datetime import datetime
from random import SystemRandom

import asyncpg

from services.auction.domain import anonymity

_NUMBERS = SystemRandom()


async def draw_number(conn: asyncpg.Connection, table: str, column: str,
                      procedure_id: uuid.UUID) -> int:
    """A bid number no bidder of the procedure holds. The caller holds the procedure's row
    lock, which serialises the draws of one procedure."""
    if (table, column) not in (("bidders", "auction_id"), ("listing_trade_buyers", "trade_id")):
        raise ValueError(f"not a table of bidders: {table}")
    taken = {r["number"] for r in await conn.fetch(
        f"SELECT number FROM {table} WHERE {column} = $1", procedure_id)}
    return anonymity.draw_number(taken, _NUMBERS)


async def lock_pending_deadline(conn: asyncpg.Connection, kind: str, key: str) -> None:
    """Lock the pending deadline ``(kind, key)`` if there is one (see the package's note on
    lock order); waits while the scheduler is firing it."""
    await conn.execute(
        "SELECT 1 FROM deadlines WHERE kind = $1 AND key = $2 AND fired_at IS NULL FOR UPDATE",
        kind, key)


# The procedure a defaulted deal came from, whichever route it took: closed (or concluded) →
# failed, once. Auctions and listing trades keep the reason; a re-auction then starts from it.
# An auction's writer may still hold it in memory as closed: the new epoch makes it lose its
# lease at the next renewal, and whoever reads it next loads it from these rows.
_FAIL_DEFAULTED = """
WITH a AS (
    UPDATE auctions SET status = 'failed', failure = $2, closed_at = $3,
                        owner_epoch = owner_epoch + 1  -- fences out a writer holding it closed
    WHERE id = $1 AND status = 'closed' RETURNING listing_id, region),
t AS (
    UPDATE listing_trades SET status = 'failed', failure = $2, closed_at = $3
    WHERE id = $1 AND status = 'closed' RETURNING listing_id, region),
n AS (
    UPDATE notices SET status = 'failed', closed_at = $3
    WHERE id = $1 AND status = 'concluded' RETURNING listing_id, region)
SELECT * FROM a UNION ALL SELECT * FROM t UNION ALL SELECT * FROM n
"""


async def fail_defaulted(conn: asyncpg.Connection, procedure_id: uuid.UUID, reason: str,
                         at: datetime) -> asyncpg.Record | None:
    """Mark the procedure failed for ``reason`` (its winner defaulted); its listing and region,
    or None if it already was failed (or is unknown here)."""
    return await conn.fetchrow(_FAIL_DEFAULTED, procedure_id, reason, at)


async def counts(db) -> list[asyncpg.Record]:
    """Procedures by route (auction, listing, negotiated) and status."""
    return await db.fetch(
        "SELECT 'auction' AS route, status, count(*) AS n FROM auctions GROUP BY status"
        " UNION ALL SELECT 'listing', status, count(*) FROM listing_trades GROUP BY status"
        " UNION ALL SELECT 'negotiated', status, count(*) FROM notices GROUP BY status")
