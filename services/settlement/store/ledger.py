"""The double-entry ledger in PostgreSQL: postings written, balances derived from lines.

A :class:`~services.settlement.domain.ledger.Posting` is balanced by construction; the database
checks it again when the transaction commits (the deferred ``lines_balance`` trigger), and lines
are append-only. An entry id already posted is skipped, so a redelivered step posts once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import asyncpg

from services.settlement.domain.ledger import AccountKind, Posting
from services.settlement.store import Db


async def post(conn: asyncpg.Connection, postings: Iterable[Posting], at: datetime,
               deal_id: uuid.UUID | None = None) -> int:
    """Write the postings in the caller's transaction; returns how many were new."""
    written = 0
    for p in postings:
        fresh = await conn.fetchval(
            "INSERT INTO entries (entry_id, memo, deal_id, posted_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (entry_id) DO NOTHING RETURNING true",
            p.entry_id, p.memo, deal_id, at)
        if not fresh:
            continue
        await conn.executemany(
            "INSERT INTO lines (entry_id, account, debit_fen, credit_fen) VALUES ($1, $2, $3, $4)",
            [(p.entry_id, line.account.id, line.debit_fen, line.credit_fen) for line in p.lines])
        written += 1
    return written


async def trial_balance(db: Db) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT account, sum(debit_fen)::bigint AS debit_fen, sum(credit_fen)::bigint AS credit_fen"
        " FROM lines GROUP BY account ORDER BY account")


async def balance(db: Db, account: str) -> int:
    """``debits − credits`` of the account."""
    return await db.fetchval(
        "SELECT coalesce(sum(debit_fen - credit_fen), 0)::bigint FROM lines WHERE account = $1",
        account)


async def statement(db: Db, account: str, after: int,
                    limit: int) -> list[asyncpg.Record]:
    """The account's lines after line ``after`` (the cursor), with the running balance."""
    return await db.fetch(
        "WITH before AS (SELECT coalesce(sum(debit_fen - credit_fen), 0)::bigint AS b"
        "                FROM lines WHERE account = $1 AND id <= $2),"
        " page AS (SELECT l.id, l.entry_id, e.memo, e.deal_id, e.posted_at, l.debit_fen,"
        "                 l.credit_fen FROM lines l JOIN entries e USING (entry_id)"
        "          WHERE l.account = $1 AND l.id > $2 ORDER BY l.id LIMIT $3)"
        " SELECT page.*, (before.b + sum(debit_fen - credit_fen) OVER (ORDER BY id))::bigint"
        "        AS balance_fen FROM page, before ORDER BY id",
        account, after, limit)


async def unbalanced_entries(db: Db) -> list[str]:
    """Entries whose lines do not balance (always none: the trigger refuses them)."""
    rows = await db.fetch(
        "SELECT entry_id FROM lines GROUP BY entry_id"
        " HAVING sum(debit_fen) <> sum(credit_fen) OR count(*) < 2")
    return [r["entry_id"] for r in rows]


async def deposits_held_fen(db: Db) -> int:
    """What the exchange holds in deposits: the credit balance of every deposits_held account."""
    return await db.fetchval(
        "SELECT coalesce(sum(credit_fen - debit_fen), 0)::bigint FROM lines"
        " WHERE account LIKE $1", f"{AccountKind.DEPOSITS_HELD.value}:%")
