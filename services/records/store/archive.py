"""The archive's SQL: appending under the chain head's lock, reading rows back for the
dossiers, the reports, the regulator's queries and the check of the chain."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import asyncpg

from services.records.domain.archive import Archived
from services.records.domain.chain import Row

# The hash is computed here, under the head's row lock: concurrent appends (the consumer
# applies partitions side by side) queue on it, so seq has no gaps and each row follows the
# one committed before it. An event archived already (by id) leaves the head untouched.
_APPEND = """
WITH head AS (
    UPDATE chain_head SET seq = seq + 1, hash = sha256(hash || $1::bytea)
    WHERE NOT EXISTS (SELECT 1 FROM archive WHERE event_id = $2)
    RETURNING seq, hash)
INSERT INTO archive (seq, hash, record, event_id, type, source, subject, region, occurred_at,
                     topic, origin, payload, refs, archived_at)
SELECT head.seq, head.hash, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12 FROM head
RETURNING seq
"""

_COLUMNS = "seq, event_id, type, source, subject, region, occurred_at, topic, payload"


async def append(conn: asyncpg.Connection, record: bytes, event: Archived, payload: str,
                 origin: str | None, refs: Sequence[str], at: datetime) -> int | None:
    """Append ``record`` (``payload``: its payload's JSON text, as sent); its seq, or None
    when the event is archived already."""
    return await conn.fetchval(
        _APPEND, record, event.event_id, event.type, event.source, event.subject, event.region,
        event.time, event.topic, origin, payload, list(refs), at)


def _archived(row: asyncpg.Record) -> Archived:
    return Archived(row["seq"], row["event_id"], row["type"], row["source"], row["subject"],
                    row["region"], row["occurred_at"], row["topic"], json.loads(row["payload"]))


async def referring(conn: asyncpg.Connection | asyncpg.Pool, ids: Sequence[str],
                    limit: int = 100_000) -> list[Archived]:
    """Every archived event naming one of ``ids``, in archive order."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM archive WHERE refs && $1::text[] ORDER BY seq LIMIT $2",
        list(ids), limit)
    return [_archived(r) for r in rows]


async def of_subject(conn: asyncpg.Connection | asyncpg.Pool, subject: str,
                     kinds: Sequence[str]) -> list[Archived]:
    """One aggregate's archived events of the types ``kinds``, in archive order."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM archive WHERE subject = $1 AND type = ANY($2::text[])"
        " ORDER BY seq", subject, list(kinds))
    return [_archived(r) for r in rows]


async def head(conn: asyncpg.Connection | asyncpg.Pool) -> tuple[int, bytes]:
    row = await conn.fetchrow("SELECT seq, hash FROM chain_head")
    return row["seq"], bytes(row["hash"])


async def last_before(conn: asyncpg.Connection | asyncpg.Pool,
                      instant: datetime) -> tuple[int, bytes]:
    """The last row archived before ``instant``: its seq and hash (0 and the genesis hash
    when there is none)."""
    row = await conn.fetchrow(
        "SELECT seq, hash FROM archive WHERE archived_at < $1 ORDER BY seq DESC LIMIT 1",
        instant)
    if row is None:
        return 0, bytes(32)
    return row["seq"], bytes(row["hash"])


async def day_count(conn: asyncpg.Connection | asyncpg.Pool, since: datetime,
                    until: datetime) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM archive WHERE archived_at >= $1 AND archived_at < $2",
        since, until)


async def hash_at(conn: asyncpg.Connection | asyncpg.Pool, seq: int) -> bytes | None:
    value = await conn.fetchval("SELECT hash FROM archive WHERE seq = $1", seq)
    return bytes(value) if value is not None else None


async def first_archived_on_or_after(conn: asyncpg.Connection | asyncpg.Pool,
                                     instant: datetime) -> int | None:
    return await conn.fetchval(
        "SELECT min(seq) FROM archive WHERE archived_at >= $1", instant)


async def rows(conn: asyncpg.Connection, after: int, upto: int,
               chunk: int = 2000) -> AsyncIterator[Row]:
    """The rows after seq ``after`` up to ``upto`` in seq order, read in chunks (a
    cursor-free keyset walk, so a long check holds no transaction open)."""
    last = after
    while True:
        batch = await conn.fetch(
            "SELECT seq, hash, record, event_id, type, subject, region, occurred_at, topic,"
            " payload FROM archive WHERE seq > $1 AND seq <= $3 ORDER BY seq LIMIT $2",
            last, chunk, upto)
        if not batch:
            return
        for r in batch:
            yield Row(r["seq"], bytes(r["hash"]), bytes(r["record"]), r["event_id"], r["type"],
                      r["subject"], r["region"].strip(), r["occurred_at"], r["topic"],
                      json.loads(r["payload"]))
        last = batch[-1]["seq"]


async def listings_of(pool: asyncpg.Pool | asyncpg.Connection, holder: str) -> list[str]:
    """The listings an institution (the seller account) created."""
    return [r["subject"] for r in await pool.fetch(
        "SELECT DISTINCT subject FROM archive WHERE type = ANY($2::text[])"
        " AND payload->>'seller_id' = $1", holder,
        ["cn.techex.listing.created.v1", "cn.techex.listing.published.v1"])]
