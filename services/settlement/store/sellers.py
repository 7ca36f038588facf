"""SQL of the sellers' configured income splits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import asyncpg

from services.settlement.store import Db


async def inventor_share(db: Db, seller_id: str) -> Decimal | None:
    return await db.fetchval("SELECT inventor_share FROM seller_splits WHERE seller_id = $1",
                             seller_id)


async def set_inventor_share(conn: asyncpg.Connection, seller_id: str, share: Decimal,
                             by: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO seller_splits (seller_id, inventor_share, set_by, set_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (seller_id) DO UPDATE"
        " SET inventor_share = $2, set_by = $3, set_at = $4", seller_id, share, by, at)
