"""SQL of the listing trade (挂牌): its row, its buyers and its bids (see the package's note
on persistence by rows)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from services.auction.domain.bidding import Ladder
from services.auction.domain.listing_trade import (
    ListingTrade,
    ListingTradeTerms,
    TradeFailure,
    TradeStatus,
)
from services.auction.store.procedures import draw_number


async def insert_trade(conn: asyncpg.Connection, t: ListingTrade, announced_by: str) -> None:
    terms = t.terms
    await conn.execute(
        "INSERT INTO listing_trades (id, listing_id, seller_id, region, announced_by,"
        " listed_price_fen, increment_fen, deposit_fen, announced_at, working_days,"
        " extension_working_days, max_extensions, free_quote_seconds, countdown_seconds,"
        " status, last_day, extensions, period_ends_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
        " $18)",
        t.id, t.listing_id, t.seller_id, t.region, announced_by, terms.listed_price_fen,
        terms.increment_fen, terms.deposit_fen, terms.announced_at, terms.working_days,
        terms.extension_working_days, terms.max_extensions,
        int(terms.free_quote.total_seconds()), int(terms.countdown.total_seconds()),
        t.status.value, t.last_day, t.extensions, t.period_ends_at)


async def load_trade(conn: asyncpg.Connection, trade_id: uuid.UUID, *, lock: bool = False
                     ) -> ListingTrade | None:
    """Rebuild the trade from its rows; ``lock`` takes the row lock a command needs."""
    row = await conn.fetchrow(
        "SELECT * FROM listing_trades WHERE id = $1" + (" FOR UPDATE" if lock else ""),
        trade_id)
    if row is None:
        return None
    terms = ListingTradeTerms(
        listed_price_fen=row["listed_price_fen"], increment_fen=row["increment_fen"],
        deposit_fen=row["deposit_fen"], announced_at=row["announced_at"],
        working_days=row["working_days"], extension_working_days=row["extension_working_days"],
        max_extensions=row["max_extensions"],
        free_quote=timedelta(seconds=row["free_quote_seconds"]),
        countdown=timedelta(seconds=row["countdown_seconds"]))
    buyers = await conn.fetch(
        "SELECT bidder_id, qualified_at FROM listing_trade_buyers WHERE trade_id = $1",
        trade_id)
    ladder = None
    opens_at = row["bidding_opens_at"]
    if opens_at is not None:
        ladder = Ladder(terms.listed_price_fen, terms.increment_fen, opens_at,
                        opens_at + terms.free_quote + terms.countdown, terms.countdown)
        for b in await conn.fetch(
                "SELECT bidder_id, amount_fen, at FROM listing_trade_bids WHERE trade_id = $1"
                " ORDER BY seq", trade_id):
            ladder = ladder.accept(b["bidder_id"], b["amount_fen"], b["at"])
    return ListingTrade(
        id=row["id"], listing_id=row["listing_id"], seller_id=row["seller_id"],
        region=row["region"], terms=terms, last_day=row["last_day"],
        status=TradeStatus(row["status"]), extensions=row["extensions"],
        registered=frozenset(b["bidder_id"] for b in buyers),
        qualified=frozenset(b["bidder_id"] for b in buyers if b["qualified_at"] is not None),
        ladder=ladder, failure=TradeFailure(row["failure"]) if row["failure"] else None,
        closed_at=row["closed_at"])


async def trade_numbers(db: asyncpg.Pool | asyncpg.Connection, trade_id: uuid.UUID
                        ) -> dict[str, int]:
    """The bid numbers of the trade's buyers."""
    rows = await db.fetch(
        "SELECT bidder_id, number FROM listing_trade_buyers WHERE trade_id = $1", trade_id)
    return {r["bidder_id"]: r["number"] for r in rows}


async def save_trade(conn: asyncpg.Connection, before: ListingTrade, after: ListingTrade,
                     at: datetime) -> None:
    """Write what a command changed: the scalar state, new buyers and qualifications (at
    ``at``), and the bids accepted since ``before``."""
    ladder = after.ladder
    high = ladder.high if ladder else None
    await conn.execute(
        "UPDATE listing_trades SET status = $2, last_day = $3, extensions = $4,"
        " bidding_opens_at = $5, failure = $6, closed_at = $7, period_ends_at = $8,"
        " bidding_ends_at = $9, high_bid_fen = $10, bid_count = $11, winner_id = $12,"
        " price_fen = $13 WHERE id = $1",
        after.id, after.status.value, after.last_day, after.extensions,
        ladder.opens_at if ladder else None, after.failure.value if after.failure else None,
        after.closed_at, after.period_ends_at, ladder.ends_at if ladder else None,
        high.amount_fen if high else None, ladder.count if ladder else 0, after.winner_id,
        after.price_fen)
    for b in sorted(after.registered - before.registered):
        # Drawn under the trade's row lock, which every command holds (see load_trade).
        number = await draw_number(conn, "listing_trade_buyers", "trade_id", after.id)
        await conn.execute(
            "INSERT INTO listing_trade_buyers (trade_id, bidder_id, registered_at, number)"
            " VALUES ($1, $2, $3, $4)", after.id, b, at, number)
    new_qualified = sorted(after.qualified - before.qualified)
    if new_qualified:
        await conn.executemany(
            "UPDATE listing_trade_buyers SET qualified_at = $3"
            " WHERE trade_id = $1 AND bidder_id = $2 AND qualified_at IS NULL",
            [(after.id, b, at) for b in new_qualified])
    if ladder is not None:
        new_bids = ladder.since(before.ladder.count if before.ladder else 0)
        if new_bids:
            await conn.executemany(
                "INSERT INTO listing_trade_bids (trade_id, seq, bidder_id, amount_fen, at)"
                " VALUES ($1, $2, $3, $4, $5)",
                [(after.id, b.sequence, b.bidder_id, b.amount_fen, b.at) for b in new_bids])
