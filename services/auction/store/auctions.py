"""SQL of auctions: ownership leases, loading the state, appending bid batches, bidders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from services.auction.domain.auction import (
    Auction,
    AuctionRules,
    AuctionTerms,
    FailureReason,
    ProxyBook,
)
from services.auction.domain.bidding import Bid, Ladder
from services.auction.store.procedures import draw_number


async def insert_auction(conn: asyncpg.Connection, a: Auction) -> None:
    t = a.terms
    await conn.execute(
        "INSERT INTO auctions (id, listing_id, seller_id, region, start_price_fen, increment_fen,"
        " reserve_fen, deposit_ratio, announce_at, starts_at, original_ends_at,"
        " extension_seconds, round, previous_id, ends_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $11)",
        a.id, a.listing_id, a.seller_id, a.region, t.start_price_fen, t.increment_fen,
        t.reserve_fen, t.deposit_ratio, t.announce_at, t.starts_at, t.ends_at,
        int(t.rules.extension_window.total_seconds()), a.round, a.previous_id)


async def claim(conn: asyncpg.Connection, auction_id: uuid.UUID, owner: str,
                lease: timedelta, now: datetime, owner_url: str | None = None) -> int | None:
    """Take (or keep) the auction's lease; the new fencing epoch, or None if another process
    holds a live lease. ``owner_url`` is where other processes forward its requests."""
    return await conn.fetchval(
        "UPDATE auctions SET owner = $2, owner_epoch = owner_epoch + 1,"
        " lease_until = $3::timestamptz + $4::interval, owner_url = $5"
        " WHERE id = $1 AND (owner IS NULL OR owner = $2 OR lease_until < $3)"
        " RETURNING owner_epoch",
        auction_id, owner, now, lease, owner_url)


async def current_owner(db: asyncpg.Pool | asyncpg.Connection, auction_id: uuid.UUID
                        ) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT owner, owner_epoch, lease_until, owner_url FROM auctions WHERE id = $1",
        auction_id)


async def renew(conn: asyncpg.Connection, owner: str, held: dict[uuid.UUID, int],
                lease: timedelta, now: datetime) -> set[uuid.UUID]:
    """Extend the leases still ours (same owner and epoch); returns the ids no longer ours.

    A row locked at the moment (its batch being written) is skipped, not waited for: the
    batch extends the lease itself (:func:`append_batches`), and waiting on rows locked in
    another order would deadlock with a group commit."""
    if not held:
        return set()
    rows = await conn.fetch(
        "WITH h AS (SELECT * FROM unnest($4::uuid[], $5::bigint[]) AS h(id, epoch)),"
        " mine AS (SELECT a.id FROM auctions a JOIN h ON a.id = h.id AND a.owner = $1"
        " AND a.owner_epoch = h.epoch FOR UPDATE OF a SKIP LOCKED),"
        " renewed AS (UPDATE auctions a SET lease_until = $2::timestamptz + $3::interval"
        " FROM mine WHERE a.id = mine.id)"
        " SELECT h.id FROM h LEFT JOIN auctions a ON a.id = h.id AND a.owner = $1"
        " AND a.owner_epoch = h.epoch WHERE a.id IS NULL",
        owner, now, lease, list(held), list(held.values()))
    return {r["id"] for r in rows}


async def release(conn: asyncpg.Connection, owner: str, ids: Sequence[uuid.UUID]) -> None:
    await conn.execute(
        "UPDATE auctions SET owner = NULL, lease_until = NULL WHERE owner = $1 AND id = ANY($2)",
        owner, list(ids))


async def release_epochs(conn: asyncpg.Connection, owner: str,
                         held: dict[uuid.UUID, int]) -> None:
    """Give back the leases of ``held`` (id → epoch) still ours at that epoch (a row being
    written is skipped: it is written by a writer rebuilt under a newer epoch)."""
    await conn.execute(
        "UPDATE auctions a SET owner = NULL, lease_until = NULL"
        " WHERE a.id IN (SELECT a.id FROM auctions a"
        " JOIN unnest($2::uuid[], $3::bigint[]) AS h(id, epoch) ON a.id = h.id"
        " AND a.owner = $1 AND a.owner_epoch = h.epoch FOR UPDATE OF a SKIP LOCKED)",
        owner, list(held), list(held.values()))


async def load(conn: asyncpg.Connection, auction_id: uuid.UUID,
               rules: AuctionRules | None = None) -> Auction | None:
    """Rebuild the auction from its rows: terms, bidders, proxies and the whole bid sequence."""
    loaded = await load_with_numbers(conn, auction_id, rules)
    return loaded[0] if loaded else None


async def load_with_numbers(conn: asyncpg.Connection, auction_id: uuid.UUID,
                            rules: AuctionRules | None = None
                            ) -> tuple[Auction, dict[str, int]] | None:
    """The auction rebuilt from its rows (see :func:`load`) and its bidders' bid numbers."""
    row = await conn.fetchrow("SELECT * FROM auctions WHERE id = $1", auction_id)
    if row is None:
        return None
    rules = rules or AuctionRules(extension_window=timedelta(seconds=row["extension_seconds"]))
    terms = AuctionTerms(
        start_price_fen=row["start_price_fen"], increment_fen=row["increment_fen"],
        deposit_ratio=Decimal(row["deposit_ratio"]), announce_at=row["announce_at"],
        starts_at=row["starts_at"], ends_at=row["original_ends_at"],
        reserve_fen=row["reserve_fen"], rules=rules)
    ladder = Ladder(terms.start_price_fen, terms.increment_fen, terms.starts_at, terms.ends_at,
                    rules.extension_window)
    for b in await conn.fetch(
        "SELECT bidder_id, amount_fen, at, automatic FROM bids WHERE auction_id = $1"
        " ORDER BY seq", auction_id):
        ladder = ladder.accept(b["bidder_id"], b["amount_fen"], b["at"],
                               automatic=b["automatic"])
    people = await conn.fetch(
        "SELECT bidder_id, qualified_at, number FROM bidders WHERE auction_id = $1", auction_id)
    proxies = ProxyBook()
    for p in await conn.fetch(
        "SELECT bidder_id, max_fen FROM proxies WHERE auction_id = $1 ORDER BY set_order",
        auction_id):
        proxies = proxies.with_proxy(p["bidder_id"], p["max_fen"],
                                     ladder.floor_to_grid(p["max_fen"]))
    return Auction(
        id=row["id"], listing_id=row["listing_id"], seller_id=row["seller_id"],
        region=row["region"], terms=terms, ladder=ladder,
        registered=frozenset(p["bidder_id"] for p in people),
        qualified=frozenset(p["bidder_id"] for p in people if p["qualified_at"]),
        proxies=proxies, failure=FailureReason(row["failure"]) if row["failure"] else None,
        closed_at=row["closed_at"], round=row["round"], previous_id=row["previous_id"],
    ), {p["bidder_id"]: p["number"] for p in people}


async def append_batches(conn: asyncpg.Connection,
                         batches: Sequence[tuple[Auction, int, Sequence[Bid]]],
                         lease_until: datetime) -> set[uuid.UUID]:
    """Append the batches of many auctions — each its state after the batch, the epoch that
    fences it and its accepted bids — in two statements: the derived columns of the auction
    rows (and the lease, extended to at least ``lease_until``: a write proves its writer
    alive), then the bids of the auctions still owned. Returns the ids of those; nothing is
    written for an auction this process no longer owns."""
    highs = [a.high_bid for a, _, _ in batches]
    rows = await conn.fetch(
        "UPDATE auctions a SET ends_at = b.ends_at, high_bid_fen = b.high_fen,"
        " high_bidder = b.high_bidder, bid_count = b.bid_count,"
        " status = CASE WHEN a.status = 'announced' THEN 'open' ELSE a.status END,"
        " lease_until = greatest(a.lease_until, $7)"
        " FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::bigint[], $5::text[],"
        " $6::integer[]) AS b(id, epoch, ends_at, high_fen, high_bidder, bid_count)"
        " WHERE a.id = b.id AND a.owner_epoch = b.epoch RETURNING a.id",
        [a.id for a, _, _ in batches], [epoch for _, epoch, _ in batches],
        [a.ends_at for a, _, _ in batches], [h.amount_fen if h else None for h in highs],
        [h.bidder_id if h else None for h in highs], [a.ladder.count for a, _, _ in batches],
        lease_until)
    owned = {r["id"] for r in rows}
    bids = [(a.id, b) for a, _, new in batches if a.id in owned for b in new]
    if bids:
        await conn.execute(
            "INSERT INTO bids (auction_id, seq, bidder_id, amount_fen, at, automatic)"
            " SELECT * FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::bigint[],"
            " $5::timestamptz[], $6::boolean[])",
            [i for i, _ in bids], [b.sequence for _, b in bids], [b.bidder_id for _, b in bids],
            [b.amount_fen for _, b in bids], [b.at for _, b in bids],
            [b.automatic for _, b in bids])
    return owned


async def add_bidder(conn: asyncpg.Connection, auction_id: uuid.UUID, bidder_id: str,
                     at: datetime) -> int:
    """Register the bidder if it is not yet (drawing its bid number); its number."""
    # The auction's row lock serialises the draws (the bid engine's batch holds it already).
    await conn.execute("SELECT 1 FROM auctions WHERE id = $1 FOR UPDATE", auction_id)
    number = await conn.fetchval(
        "SELECT number FROM bidders WHERE auction_id = $1 AND bidder_id = $2",
        auction_id, bidder_id)
    if number is None:
        number = await draw_number(conn, "bidders", "auction_id", auction_id)
        await conn.execute(
            "INSERT INTO bidders (auction_id, bidder_id, registered_at, number)"
            " VALUES ($1, $2, $3, $4)", auction_id, bidder_id, at, number)
    return number


async def qualify_bidder(conn: asyncpg.Connection, auction_id: uuid.UUID, bidder_id: str,
                         at: datetime) -> bool:
    """Mark a registered bidder qualified; False if it already was."""
    return bool(await conn.fetchval(
        "UPDATE bidders SET qualified_at = $3 WHERE auction_id = $1 AND bidder_id = $2"
        " AND qualified_at IS NULL RETURNING true", auction_id, bidder_id, at))


async def confirm_deposit(conn: asyncpg.Connection, auction_id: uuid.UUID, bidder_id: str,
                          at: datetime) -> bool:
    """Mark the bidder qualified (registering it if needed); False if it already was."""
    await add_bidder(conn, auction_id, bidder_id, at)
    return await qualify_bidder(conn, auction_id, bidder_id, at)


async def qualified_among(conn: asyncpg.Connection, auction_id: uuid.UUID,
                          bidders: Sequence[str]) -> dict[str, int]:
    """The qualified ones of ``bidders``, with their bid numbers."""
    rows = await conn.fetch(
        "SELECT bidder_id, number FROM bidders WHERE auction_id = $1 AND bidder_id = ANY($2)"
        " AND qualified_at IS NOT NULL", auction_id, list(bidders))
    return {r["bidder_id"]: r["number"] for r in rows}


async def save_proxy(conn: asyncpg.Connection, auction_id: uuid.UUID, bidder_id: str,
                     max_fen: int, order: int, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO proxies (auction_id, bidder_id, max_fen, set_order, set_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (auction_id, bidder_id)"
        " DO UPDATE SET max_fen = $3, set_order = $4, set_at = $5",
        auction_id, bidder_id, max_fen, order, at)


async def save_close(conn: asyncpg.Connection, a: Auction) -> None:
    await conn.execute(
        "UPDATE auctions SET status = $2, failure = $3, closed_at = $4 WHERE id = $1",
        a.id, "failed" if a.failure else "closed", a.failure.value if a.failure else None,
        a.closed_at)


async def status(db, auction_id: uuid.UUID) -> str | None:
    """The auction's status column (None: no such auction)."""
    return await db.fetchval("SELECT status FROM auctions WHERE id = $1", auction_id)


async def region(db, auction_id: uuid.UUID) -> str | None:
    """The auction's region (None: no such auction)."""
    return await db.fetchval("SELECT region FROM auctions WHERE id = $1", auction_id)


async def auction_row(db, auction_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, listing_id, seller_id, region, start_price_fen, increment_fen,"
        " deposit_ratio, announce_at, starts_at, ends_at, high_bid_fen, high_bidder,"
        " bid_count, status, failure, closed_at, owner, reserve_fen IS NOT NULL AS has_reserve"
        " FROM auctions WHERE id = $1", auction_id)


async def bid_rows(db, auction_id: uuid.UUID, after: int, limit: int,
                   upto: int | None = None) -> list[asyncpg.Record]:
    """Accepted bids after sequence ``after`` (up to ``upto``), with their bidders' numbers."""
    return await db.fetch(
        "SELECT b.seq, b.bidder_id, d.number, b.amount_fen, b.at, b.automatic FROM bids b"
        " JOIN bidders d ON d.auction_id = b.auction_id AND d.bidder_id = b.bidder_id"
        " WHERE b.auction_id = $1 AND b.seq > $2 AND ($4::integer IS NULL OR b.seq <= $4)"
        " ORDER BY b.seq LIMIT $3", auction_id, after, limit, upto)
