"""SQL of registrations (what each bidder owes) and deposits (what is held)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.settlement.store import Db
from shared.events.auction import BidderRegistered


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
