"""``Idempotency-Key`` for commands: a retried request gets the first request's answer.

The key is claimed at the start of the command's own transaction. A concurrent retry blocks on
the claim until the first commits, then reads the stored answer; a first attempt that rolled back
leaves no claim, so the retry runs as new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.problems import Problem

HEADER = "Idempotency-Key"


class IdempotencyKeyReused(Problem):
    slug = "idempotency-key-reused"
    status = 422
    title = "Idempotency-Key reused with a different request"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any


def request_hash(payload: Any) -> str:
    """Hash of a request's meaningful content (method, path and body, as the caller chooses)."""
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def claim(
    conn: asyncpg.Connection, scope: str, key: str, fingerprint: str
) -> StoredResponse | None:
    """Claim ``key`` in this transaction; the stored first answer if the key was used before."""
    inserted = await conn.fetchval(
        "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        scope, key, fingerprint,
    )
    if inserted:
        return None
    row = await conn.fetchrow(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope, key,
    )
    if row["request_hash"] != fingerprint:
        raise IdempotencyKeyReused(
            detail=f"Idempotency-Key {key!r} was first used with a different request."
        )
    return StoredResponse(row["status"], json.loads(row["body"]) if row["body"] else None)


async def remember(
    conn: asyncpg.Connection, scope: str, key: str, status: int, body: Any
) -> None:
    """Store the answer of the command that claimed ``key`` (same transaction)."""
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, body = $4::jsonb WHERE scope = $1 AND key = $2",
        scope, key, status, json.dumps(body, default=str, ensure_ascii=False),
    )


async def run_once(
    conn: asyncpg.Connection,
    scope: str,
    key: str | None,
    fingerprint: Any,
    command: Callable[[], Awaitable[tuple[int, Any]]],
) -> tuple[int, Any]:
    """Run ``command`` (which answers ``(status, body)``) unless ``key`` already has an answer."""
    if key is None:
        return await command()
    digest = request_hash(fingerprint)
    stored = await claim(conn, scope, key, digest)
    if stored is not None:
        return stored.status, stored.body
    status, body = await command()
    await remember(conn, scope, key, status, body)
    return status, body
