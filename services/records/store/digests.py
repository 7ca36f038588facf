"""The published daily digests of the chain."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg


async def latest_day(conn: asyncpg.Connection | asyncpg.Pool) -> date | None:
    return await conn.fetchval("SELECT max(day) FROM digests")


async def record(conn: asyncpg.Connection, day: date, seq: int, head: bytes, events: int,
                 at: datetime) -> bool:
    """Keep the digest of ``day``; False when it was kept already."""
    return bool(await conn.fetchval(
        "INSERT INTO digests (day, seq, head, events, digested_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT DO NOTHING RETURNING true", day, seq, head, events, at))


async def all_digests(conn: asyncpg.Connection | asyncpg.Pool) -> dict[int, bytes]:
    """seq -> head of every published digest (of days that had rows)."""
    rows = await conn.fetch("SELECT seq, head FROM digests WHERE seq > 0")
    return {r["seq"]: bytes(r["head"]) for r in rows}


async def listing(conn: asyncpg.Connection | asyncpg.Pool, limit: int,
                  before: date | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT day, seq, head, events, digested_at FROM digests"
        " WHERE $1::date IS NULL OR day < $1 ORDER BY day DESC LIMIT $2", before, limit)
