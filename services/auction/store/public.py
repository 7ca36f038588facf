"""SQL of the public views (issue 14): the procedures of all three routes as one list, their
results, an auction's and a listing trade's public state. Reads only; bidders appear by their
bid numbers (the accounts are selected only to be turned into numbers here, in SQL).

The public status of a procedure on the service clock ``now``:

- an auction is ``upcoming`` before its start, ``live`` while its bidding is open (started and
  before its current end), ``ended`` once closed or past its end;
- a listing trade is ``live`` from its announcement (buyers register, then bid) until it is
  closed or failed, then ``ended``;
- a notice is ``live`` while objections may be filed (published, before its end), then
  ``ended``.

A procedure's result is there once it is closed (the close follows the end within seconds).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

# One row per procedure of any route, in the columns of PublicProcedure; $1 is the clock's now.
_PROCEDURES = """
SELECT 'auction' AS route, a.id, a.listing_id, NULL::text AS own_title, a.region,
       CASE WHEN a.closed_at IS NOT NULL OR a.ends_at <= $1 THEN 'ended'
            WHEN a.starts_at > $1 THEN 'upcoming' ELSE 'live' END AS status,
       a.announce_at AS announced_at, a.starts_at, a.ends_at, a.start_price_fen AS price_fen,
       a.high_bid_fen, a.bid_count, a.closed_at AS ended_at, a.failure,
       CASE WHEN a.closed_at IS NOT NULL AND a.failure IS NULL THEN a.high_bid_fen END
           AS deal_price_fen,
       CASE WHEN a.closed_at IS NOT NULL AND a.failure IS NULL THEN
           (SELECT d.number FROM bidders d
            WHERE d.auction_id = a.id AND d.bidder_id = a.high_bidder) END AS winner_number
FROM auctions a
UNION ALL
SELECT 'listing', t.id, t.listing_id, NULL, t.region,
       CASE WHEN t.status IN ('closed', 'failed') THEN 'ended' ELSE 'live' END,
       t.announced_at, t.announced_at, COALESCE(t.bidding_ends_at, t.period_ends_at),
       t.listed_price_fen, t.high_bid_fen, t.bid_count, t.closed_at, t.failure,
       CASE WHEN t.status = 'closed' THEN t.price_fen END,
       CASE WHEN t.status = 'closed' THEN
           (SELECT b.number FROM listing_trade_buyers b
            WHERE b.trade_id = t.id AND b.bidder_id = t.winner_id) END
FROM listing_trades t
UNION ALL
SELECT 'negotiated', n.id, n.listing_id, n.project_name, n.region,
       CASE WHEN n.status <> 'published' OR n.ends_at <= $1 THEN 'ended' ELSE 'live' END,
       n.published_at, n.published_at, n.ends_at, n.price_fen, NULL, 0, n.closed_at,
       CASE WHEN n.status <> 'failed' THEN NULL
            WHEN EXISTS (SELECT 1 FROM notice_objections o
                         WHERE o.notice_id = n.id AND o.outcome = 'upheld')
            THEN 'objection-upheld' ELSE 'winner-defaulted' END,
       CASE WHEN n.status = 'concluded' THEN n.price_fen END, NULL
FROM notices n
"""


@dataclass(frozen=True)
class ProcedureQuery:
    """The filters of a page of procedures; ``after`` is the keyset of the last one seen."""

    now: datetime
    status: str | None = None
    route: str | None = None
    region_prefix: str | None = None
    field: str | None = None
    starts_from: datetime | None = None
    starts_to: datetime | None = None
    after: tuple[datetime, uuid.UUID] | None = None
    ended_only: bool = False
    """Results: closed procedures only, ordered by their end (else by their announcement)."""


async def procedures(db, q: ProcedureQuery, limit: int) -> list[asyncpg.Record]:
    """Up to ``limit`` procedures matching ``q``, newest first; each with its listing's title
    and field, and its ``key`` (the keyset a next page starts after)."""
    key = "p.ended_at" if q.ended_only else "p.announced_at"
    after_at, after_id = q.after or (None, None)
    return await db.fetch(
        f"SELECT p.*, COALESCE(l.title, p.own_title, '') AS title, l.field, {key} AS key"
        f" FROM ({_PROCEDURES}) p LEFT JOIN listings l ON l.listing_id = p.listing_id"
        " WHERE ($2::text IS NULL OR p.status = $2)"
        " AND ($3::text IS NULL OR p.route = $3)"
        " AND ($4::text IS NULL OR left(p.region, length($4)) = $4)"
        " AND ($5::text IS NULL OR l.field = $5)"
        " AND ($6::timestamptz IS NULL OR p.starts_at >= $6)"
        " AND ($7::timestamptz IS NULL OR p.starts_at < $7)"
        f" AND (NOT $8::boolean OR p.ended_at IS NOT NULL)"
        f" AND ($9::timestamptz IS NULL OR ({key}, p.id) < ($9, $10::uuid))"
        f" ORDER BY {key} DESC, p.id DESC LIMIT $11",
        q.now, q.status, q.route, q.region_prefix, q.field, q.starts_from, q.starts_to,
        q.ended_only, after_at, after_id, limit)


async def auction(db, auction_id: uuid.UUID) -> asyncpg.Record | None:
    """An auction's public state as its rows hold it (written with each batch of bids)."""
    return await db.fetchrow(
        "SELECT a.id, a.listing_id, COALESCE(l.title, '') AS title, a.region,"
        " a.start_price_fen, a.increment_fen, a.deposit_ratio,"
        " a.reserve_fen IS NOT NULL AS has_reserve, a.starts_at, a.ends_at, a.high_bid_fen,"
        " h.number AS high_bidder_number, a.bid_count, a.failure, a.closed_at"
        " FROM auctions a LEFT JOIN listings l ON l.listing_id = a.listing_id"
        " LEFT JOIN bidders h ON h.auction_id = a.id AND h.bidder_id = a.high_bidder"
        " WHERE a.id = $1", auction_id)


async def auction_title(db, auction_id: uuid.UUID) -> str | None:
    """The title of the auction's listing ('' if unknown); None: no such auction."""
    return await db.fetchval(
        "SELECT COALESCE(l.title, '') FROM auctions a"
        " LEFT JOIN listings l ON l.listing_id = a.listing_id WHERE a.id = $1", auction_id)


async def listing_title(db, listing_id: uuid.UUID) -> str:
    return await db.fetchval("SELECT title FROM listings WHERE listing_id = $1",
                             listing_id) or ""


async def auction_exists(db, auction_id: uuid.UUID) -> bool:
    return bool(await db.fetchval("SELECT true FROM auctions WHERE id = $1", auction_id))


async def bids(db, auction_id: uuid.UUID, after: int, limit: int) -> list[asyncpg.Record]:
    """Accepted bids after sequence ``after``, oldest first, by bid number (no account)."""
    return await db.fetch(
        "SELECT b.seq, d.number, b.amount_fen, b.at, b.automatic FROM bids b"
        " JOIN bidders d ON d.auction_id = b.auction_id AND d.bidder_id = b.bidder_id"
        " WHERE b.auction_id = $1 AND b.seq > $2 ORDER BY b.seq LIMIT $3",
        auction_id, after, limit)


async def listing_trade(db, trade_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT t.id, t.listing_id, COALESCE(l.title, '') AS title, t.region,"
        " t.listed_price_fen, t.status, t.period_ends_at, t.bidding_ends_at, t.bid_count,"
        " t.high_bid_fen, t.failure, t.closed_at, t.price_fen, w.number AS winner_number"
        " FROM listing_trades t LEFT JOIN listings l ON l.listing_id = t.listing_id"
        " LEFT JOIN listing_trade_buyers w ON w.trade_id = t.id AND w.bidder_id = t.winner_id"
        " WHERE t.id = $1", trade_id)
