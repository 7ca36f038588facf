"""asyncpg SQL of registrations, deposits, deals, schedules, payments, splits and subsidies."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg

from shared.events.auction import BidderRegistered, DealConcluded

Db = asyncpg.Pool | asyncpg.Connection


# -- registrations and deposits -----------------------------------------------------------------
async def record_registration(conn: asyncpg.Connection, e: BidderRegistered) -> bool:
    """What the bidder owes; the first registration stands (a redelivery changes nothing)."""
    return bool(await conn.fetchval(
        "INSERT INTO registrations (procedure_id, bidder_id, deposit_fen, region, registered_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
        e.procedure_id, e.bidder_id, e.deposit_fen, e.region, e.occurred_at))


async def registration(db: Db, procedure_id: uuid.UUID, bidder_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT procedure_id, bidder_id, deposit_fen, region FROM registrations"
        " WHERE procedure_id = $1 AND bidder_id = $2", procedure_id, bidder_id)


_DEPOSIT = ("deposit_id, procedure_id, bidder_id, amount_fen, region, status, bank_reference,"
            " confirmed_at, deal_id, settled_at")


async def deposit_of(db: Db, procedure_id: uuid.UUID, bidder_id: str, *, lock: bool = False
                     ) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_DEPOSIT} FROM deposits WHERE procedure_id = $1 AND bidder_id = $2"
        + (" FOR UPDATE" if lock else ""), procedure_id, bidder_id)


async def deposit(db: Db, deposit_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(f"SELECT {_DEPOSIT} FROM deposits WHERE deposit_id = $1",
                             deposit_id)


async def insert_deposit(conn: asyncpg.Connection, deposit_id: uuid.UUID, reg: asyncpg.Record,
                         reference: str | None, at: datetime) -> asyncpg.Record | None:
    """The new deposit, or None if one for this bidder and procedure exists already."""
    return await conn.fetchrow(
        "INSERT INTO deposits (deposit_id, procedure_id, bidder_id, amount_fen, region,"
        " bank_reference, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        f" ON CONFLICT DO NOTHING RETURNING {_DEPOSIT}",
        deposit_id, reg["procedure_id"], reg["bidder_id"], reg["deposit_fen"], reg["region"],
        reference, at)


async def deposits_for(db: Db, procedure_id: uuid.UUID, bidder_id: str | None = None
                       ) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {_DEPOSIT} FROM deposits WHERE procedure_id = $1"
        " AND ($2::text IS NULL OR bidder_id = $2) ORDER BY confirmed_at, bidder_id",
        procedure_id, bidder_id)


async def held_unattached(conn: asyncpg.Connection, procedure_id: uuid.UUID
                          ) -> list[asyncpg.Record]:
    """Held deposits of the procedure that no deal counts on (the losers'), locked."""
    return await conn.fetch(
        f"SELECT {_DEPOSIT} FROM deposits WHERE procedure_id = $1 AND status = 'held'"
        " AND deal_id IS NULL ORDER BY bidder_id FOR UPDATE", procedure_id)


async def settle_deposit(conn: asyncpg.Connection, deposit_id: uuid.UUID, status: str,
                         at: datetime) -> None:
    await conn.execute("UPDATE deposits SET status = $2, settled_at = $3 WHERE deposit_id = $1",
                       deposit_id, status, at)


async def attach_deposit(conn: asyncpg.Connection, deposit_id: uuid.UUID, deal_id: uuid.UUID
                         ) -> None:
    await conn.execute("UPDATE deposits SET deal_id = $2 WHERE deposit_id = $1",
                       deposit_id, deal_id)


# -- deals -----------------------------------------------------------------------------------------
async def insert_deal(conn: asyncpg.Connection, e: DealConcluded, buyer_fee: int,
                      seller_fee: int) -> bool:
    return bool(await conn.fetchval(
        "INSERT INTO deals (deal_id, procedure_id, listing_id, route, region, seller_id,"
        " buyer_id, price_fen, buyer_fee_fen, seller_fee_fen, concluded_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT DO NOTHING RETURNING true",
        e.deal_id, e.procedure_id, e.listing_id, e.route, e.region, e.seller_id, e.buyer_id,
        e.price_fen, buyer_fee, seller_fee, e.concluded_at))


async def deal(db: Db, deal_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT *, price_fen + buyer_fee_fen - deposit_fen - paid_fen AS outstanding_fen"
        " FROM deals WHERE deal_id = $1" + (" FOR UPDATE" if lock else ""), deal_id)


async def set_deal_deposit(conn: asyncpg.Connection, deal_id: uuid.UUID,
                           deposit_id: uuid.UUID, fen: int) -> None:
    await conn.execute("UPDATE deals SET deposit_id = $2, deposit_fen = $3 WHERE deal_id = $1",
                       deal_id, deposit_id, fen)


async def add_paid(conn: asyncpg.Connection, deal_id: uuid.UUID, fen: int) -> None:
    await conn.execute("UPDATE deals SET paid_fen = paid_fen + $2 WHERE deal_id = $1",
                       deal_id, fen)


async def set_overdue(conn: asyncpg.Connection, deal_id: uuid.UUID, since: datetime | None
                      ) -> None:
    await conn.execute("UPDATE deals SET overdue_since = $2 WHERE deal_id = $1", deal_id, since)


async def close_deal(conn: asyncpg.Connection, deal_id: uuid.UUID, status: str, at: datetime
                     ) -> None:
    column = "completed_at" if status == "completed" else "defaulted_at"
    await conn.execute(
        f"UPDATE deals SET status = $2, {column} = $3, overdue_since = NULL WHERE deal_id = $1",
        deal_id, status, at)


async def instalments(db: Db, deal_id: uuid.UUID) -> list[asyncpg.Record]:
    """The schedule with each instalment's cumulative amount."""
    return await db.fetch(
        "SELECT n, due_at, amount_fen, sum(amount_fen) OVER (ORDER BY n)::bigint AS cumulative_fen"
        " FROM instalments WHERE deal_id = $1 ORDER BY n", deal_id)


async def replace_instalments(conn: asyncpg.Connection, deal_id: uuid.UUID,
                              rows: Sequence[tuple[int, datetime, int]]) -> None:
    await conn.execute("DELETE FROM instalments WHERE deal_id = $1", deal_id)
    await conn.executemany(
        "INSERT INTO instalments (deal_id, n, due_at, amount_fen) VALUES ($1, $2, $3, $4)",
        [(deal_id, n, due, fen) for n, due, fen in rows])


async def insert_payment(conn: asyncpg.Connection, payment_id: uuid.UUID, deal_id: uuid.UUID,
                         fen: int, source: str, reference: str | None, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO payments (payment_id, deal_id, amount_fen, source, reference, received_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)", payment_id, deal_id, fen, source, reference, at)


async def payments(db: Db, deal_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT payment_id, amount_fen, source, reference, received_at FROM payments"
        " WHERE deal_id = $1 ORDER BY received_at, payment_id", deal_id)


# -- splits and subsidies ----------------------------------------------------------------------
async def inventor_share(db: Db, seller_id: str) -> Decimal | None:
    return await db.fetchval("SELECT inventor_share FROM seller_splits WHERE seller_id = $1",
                             seller_id)


async def set_inventor_share(conn: asyncpg.Connection, seller_id: str, share: Decimal,
                             by: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO seller_splits (seller_id, inventor_share, set_by, set_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (seller_id) DO UPDATE"
        " SET inventor_share = $2, set_by = $3, set_at = $4", seller_id, share, by, at)


async def assessments_of(conn: asyncpg.Connection, policy_id: str, project_id: str, year: int
                         ) -> list[asyncpg.Record]:
    # Lock the project's earlier assessments: "one side per project per year" is decided
    # against them, so two settlements of the same project are assessed one after the other.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                       f"subsidy:{policy_id}:{project_id}:{year}")
    return await conn.fetch(
        "SELECT * FROM subsidy_assessments WHERE policy_id = $1 AND project_id = $2"
        " AND year = $3 ORDER BY assessed_at, side", policy_id, project_id, year)


async def insert_assessment(conn: asyncpg.Connection, **row) -> bool:
    cols = list(row)
    return bool(await conn.fetchval(
        f"INSERT INTO subsidy_assessments ({', '.join(cols)})"
        f" VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))})"
        " ON CONFLICT DO NOTHING RETURNING true", *row.values()))


async def subsidy_report(db: Db, prefix: str, year: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT region, policy_id, side, count(*) AS assessed,"
        " count(*) FILTER (WHERE amount_fen > 0) AS granted,"
        " sum(received_fen)::bigint AS received_fen, sum(amount_fen)::bigint AS amount_fen,"
        " sum(commissioner_share_fen)::bigint AS commissioner_share_fen"
        " FROM subsidy_assessments WHERE region LIKE $1 AND year = $2"
        " GROUP BY region, policy_id, side ORDER BY region, policy_id, side",
        prefix + "%", year)
