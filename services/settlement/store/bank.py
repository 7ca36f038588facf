"""SQL of the bank callbacks applied: one row per bank reference, with the answer given."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg


async def claim(conn: asyncpg.Connection, reference: str, kind: str, at: datetime) -> bool:
    """Claim the reference; False if it was applied before. The claim blocks a concurrent
    duplicate until this transaction ends."""
    return bool(await conn.fetchval(
        "INSERT INTO bank_callbacks (reference, kind, result, received_at)"
        " VALUES ($1, $2, 'null', $3) ON CONFLICT DO NOTHING RETURNING true",
        reference, kind, at))


async def result(conn: asyncpg.Connection, reference: str) -> Any:
    """The answer first given to the reference."""
    return json.loads(await conn.fetchval(
        "SELECT result FROM bank_callbacks WHERE reference = $1", reference))


async def set_result(conn: asyncpg.Connection, reference: str, result: dict[str, Any]) -> None:
    await conn.execute("UPDATE bank_callbacks SET result = $2::jsonb WHERE reference = $1",
                       reference, json.dumps(result))
