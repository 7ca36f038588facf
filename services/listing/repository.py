"""asyncpg SQL for achievements."""

from __future__ import annotations

import uuid

import asyncpg

from services.listing.domain import Achievement, Status

_COLUMNS = "id, title, abstract, region, seller_id, status, created_at, updated_at"


async def insert(conn: asyncpg.Connection, a: Achievement) -> None:
    await conn.execute(
        f"INSERT INTO achievements ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        a.id, a.title, a.abstract, a.region, a.seller_id, a.status.value, a.created_at,
        a.updated_at,
    )


async def get(
    conn: asyncpg.Connection | asyncpg.Pool, achievement_id: uuid.UUID
) -> Achievement | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM achievements WHERE id = $1", achievement_id)
    if row is None:
        return None
    return Achievement(**{**dict(row), "status": Status(row["status"])})
