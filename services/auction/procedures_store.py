"""asyncpg SQL of the listing trade (挂牌) and the negotiated notice (协议定价 + 公示).

Persistence is by rows, not by snapshot: a procedure's row holds its terms and the scalar part
of its state; buyers, bids and objections have rows of their own. ``load_*`` rebuilds the pure
domain object from them (replaying the bids through the ladder, so the bidding end is derived,
never trusted); ``save_*`` writes the difference between the state before and after a
command. The derived columns (``period_ends_at``, ``high_bid_fen``, …) are for reads only.

Commands lock in one order, the procedure's pending deadline row first (if it may move it),
then the procedure row. The scheduler holds the deadline row while its handler locks the
procedure row, so the same order on both sides rules out a deadlock between a bid and the
close firing at that moment; and since the scheduler claims with ``SKIP LOCKED``, it simply
comes back for a deadline a command is moving.
"""

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
from services.auction.domain.notice import (
    BuyerRelation,
    Notice,
    NoticeStatus,
    NoticeTerms,
    Objection,
    ObjectionOutcome,
)
from services.auction.store import draw_number
from shared.problems import Problem, not_found

__all__ = [
    "ListingNotAvailable",
    "ProcedureRunning",
    "insert_notice",
    "insert_trade",
    "load_notice",
    "load_trade",
    "lock_listing",
    "lock_pending_deadline",
    "procedure_region",
    "save_notice",
    "save_trade",
    "trade_numbers",
]


class ListingNotAvailable(Problem):
    slug = "listing-wrong-route"
    status = 409
    title = "The listing is not published for this pricing route"


class ProcedureRunning(Problem):
    slug = "listing-procedure-running"
    status = 409
    title = "A pricing procedure of this listing is already running"


# -- the listing a procedure starts from ------------------------------------------------------

async def lock_listing(conn: asyncpg.Connection, listing_id: uuid.UUID, route: str
                       ) -> asyncpg.Record:
    """Lock the listing as this service knows it and check it may start a ``route`` procedure:
    published with that pricing route, and no procedure of any route running for it.

    The lock serialises two announcements of one listing (the partial unique indexes on the
    running procedures are only the backstop)."""
    row = await conn.fetchrow(
        "SELECT listing_id, title, region, seller_id, status, pricing_route"
        " FROM listings WHERE listing_id = $1 FOR UPDATE", listing_id)
    if row is None:
        raise not_found(f"No listing {listing_id} is known to the auction service.")
    if row["status"] != "published" or row["pricing_route"] != route:
        raise ListingNotAvailable(
            detail=f"The listing is {row['status']} with pricing route "
                   f"{row['pricing_route']}, not published for the {route} route.",
            listing_status=row["status"], pricing_route=row["pricing_route"])
    running = await conn.fetchrow(
        "SELECT 'auction' AS route, id FROM auctions"
        "  WHERE listing_id = $1 AND status NOT IN ('closed', 'failed')"
        " UNION ALL SELECT 'listing', id FROM listing_trades"
        "  WHERE listing_id = $1 AND status IN ('announced', 'bidding')"
        " UNION ALL SELECT 'negotiated', id FROM notices"
        "  WHERE listing_id = $1 AND status = 'published'"
        " LIMIT 1", listing_id)
    if running is not None:
        raise ProcedureRunning(
            detail=f"The {running['route']} procedure {running['id']} of this listing is "
                   "still running.", procedure_id=str(running["id"]), route=running["route"])
    return row


async def lock_pending_deadline(conn: asyncpg.Connection, kind: str, key: str) -> None:
    """Lock the pending deadline ``(kind, key)`` if there is one (see the module's note on
    lock order); waits while the scheduler is firing it."""
    await conn.execute(
        "SELECT 1 FROM deadlines WHERE kind = $1 AND key = $2 AND fired_at IS NULL FOR UPDATE",
        kind, key)


async def procedure_region(db: asyncpg.Pool | asyncpg.Connection, table: str,
                           procedure_id: uuid.UUID) -> str | None:
    """The region of a listing trade or notice (it never changes), or None if unknown."""
    if table not in ("listing_trades", "notices"):
        raise ValueError(f"not a procedure table: {table}")
    return await db.fetchval(f"SELECT region FROM {table} WHERE id = $1", procedure_id)


# -- listing trades ---------------------------------------------------------------------------

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


# -- notices ----------------------------------------------------------------------------------

async def insert_notice(conn: asyncpg.Connection, n: Notice, published_by: str) -> None:
    t = n.terms
    await conn.execute(
        "INSERT INTO notices (id, listing_id, region, published_by, project_name, abstract,"
        " transfer_mode, price_fen, seller_id, buyer_id, buyer_name, buyer_relation,"
        " published_at, days, min_days, inventors, status, ends_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
        " $18)",
        n.id, n.listing_id, n.region, published_by, t.project_name, t.abstract,
        t.transfer_mode, t.price_fen, t.seller_id, t.buyer_id, t.buyer_name,
        t.buyer_relation.value, t.published_at, t.days, t.min_days, list(t.inventors),
        n.status.value, n.ends_at)


async def load_notice(conn: asyncpg.Connection, notice_id: uuid.UUID, *, lock: bool = False
                      ) -> Notice | None:
    row = await conn.fetchrow(
        "SELECT * FROM notices WHERE id = $1" + (" FOR UPDATE" if lock else ""), notice_id)
    if row is None:
        return None
    terms = NoticeTerms(
        project_name=row["project_name"], abstract=row["abstract"],
        transfer_mode=row["transfer_mode"], price_fen=row["price_fen"],
        seller_id=row["seller_id"], buyer_id=row["buyer_id"], buyer_name=row["buyer_name"],
        buyer_relation=BuyerRelation(row["buyer_relation"]), published_at=row["published_at"],
        days=row["days"], min_days=row["min_days"], inventors=tuple(row["inventors"]))
    objections = tuple(
        Objection(id=o["id"], filed_by=o["filed_by"], grounds=o["grounds"],
                  filed_at=o["filed_at"],
                  outcome=ObjectionOutcome(o["outcome"]) if o["outcome"] else None,
                  reason=o["reason"], resolved_by=o["resolved_by"],
                  resolved_at=o["resolved_at"])
        for o in await conn.fetch(
            "SELECT * FROM notice_objections WHERE notice_id = $1 ORDER BY seq", notice_id))
    return Notice(id=row["id"], listing_id=row["listing_id"], region=row["region"],
                  terms=terms, objections=objections, status=NoticeStatus(row["status"]),
                  closed_at=row["closed_at"])


async def save_notice(conn: asyncpg.Connection, before: Notice, after: Notice) -> None:
    """Write what a command changed: the status, new objections and new resolutions."""
    if (after.status, after.closed_at) != (before.status, before.closed_at):
        await conn.execute("UPDATE notices SET status = $2, closed_at = $3 WHERE id = $1",
                           after.id, after.status.value, after.closed_at)
    known = {o.id: o for o in before.objections}
    for seq, o in enumerate(after.objections, start=1):
        old = known.get(o.id)
        if old is None:
            await conn.execute(
                "INSERT INTO notice_objections (id, notice_id, seq, filed_by, grounds,"
                " filed_at) VALUES ($1, $2, $3, $4, $5, $6)",
                o.id, after.id, seq, o.filed_by, o.grounds, o.filed_at)
        if o.outcome is not None and (old is None or old.outcome is None):
            await conn.execute(
                "UPDATE notice_objections SET outcome = $2, reason = $3, resolved_by = $4,"
                " resolved_at = $5 WHERE id = $1",
                o.id, o.outcome.value, o.reason, o.resolved_by, o.resolved_at)
