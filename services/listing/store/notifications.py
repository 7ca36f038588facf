"""The SQL of notifications, watches, the followed procedures and the webhooks."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

Db = asyncpg.Connection | asyncpg.Pool


# -- notifications ---------------------------------------------------------------------------

async def insert_notification(conn: asyncpg.Connection, *, account_id: str, kind: str,
                              cause: str, event_id: str | None, data: dict[str, Any],
                              now: datetime) -> int | None:
    """The new notification's id; None if the account already has one for ``cause``. Its
    deliveries to the account's webhooks (those whose filter takes ``kind``) join it."""
    nid = await conn.fetchval(
        "INSERT INTO notifications (account_id, kind, cause, event_id, data, created_at)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6)"
        " ON CONFLICT (account_id, cause) DO NOTHING RETURNING id",
        account_id, kind, cause, event_id, json.dumps(data, ensure_ascii=False), now)
    if nid is not None:
        await conn.execute(
            "INSERT INTO webhook_deliveries (webhook_id, notification_id, next_attempt_at)"
            " SELECT id, $2, $4 FROM webhooks WHERE account_id = $1"
            " AND (kinds IS NULL OR $3 = ANY(kinds)) ON CONFLICT DO NOTHING",
            account_id, nid, kind, now)
    return nid


async def inbox(db: Db, account_id: str, *, after: int, limit: int, unread: bool | None
                ) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM notifications WHERE account_id = $1 AND id > $2"
        " AND ($3::boolean IS NULL OR (read_at IS NULL) = $3) ORDER BY id LIMIT $4",
        account_id, after, unread, limit)


async def latest_id(db: Db, account_id: str) -> int:
    return await db.fetchval(
        "SELECT coalesce(max(id), 0) FROM notifications WHERE account_id = $1", account_id)


async def unread_count(db: Db, account_id: str) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM notifications WHERE account_id = $1 AND read_at IS NULL",
        account_id)


async def mark_read(conn: asyncpg.Connection, account_id: str, notification_id: int,
                    now: datetime) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE notifications SET read_at = coalesce(read_at, $3)"
        " WHERE account_id = $1 AND id = $2 RETURNING *", account_id, notification_id, now)


async def mark_read_upto(conn: asyncpg.Connection, account_id: str, upto: int | None,
                         now: datetime) -> int:
    status = await conn.execute(
        "UPDATE notifications SET read_at = $3 WHERE account_id = $1 AND read_at IS NULL"
        " AND ($2::bigint IS NULL OR id <= $2)", account_id, upto, now)
    return int(status.split()[-1])


# -- watches ---------------------------------------------------------------------------------

async def watch(conn: asyncpg.Connection, account_id: str, listing_id: uuid.UUID,
                now: datetime) -> asyncpg.Record:
    await conn.execute(
        "INSERT INTO watches (account_id, listing_id, created_at) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING", account_id, listing_id, now)
    return await conn.fetchrow(
        "SELECT * FROM watches WHERE account_id = $1 AND listing_id = $2",
        account_id, listing_id)


async def unwatch(conn: asyncpg.Connection, account_id: str, listing_id: uuid.UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM watches WHERE account_id = $1 AND listing_id = $2", account_id, listing_id)
    return status != "DELETE 0"


async def watches_of(db: Db, account_id: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM watches WHERE account_id = $1 ORDER BY created_at, listing_id LIMIT 1000",
        account_id)


async def watchers(conn: asyncpg.Connection, listing_id: uuid.UUID | None) -> list[str]:
    if listing_id is None:
        return []
    rows = await conn.fetch(
        "SELECT account_id FROM watches WHERE listing_id = $1 ORDER BY account_id", listing_id)
    return [r["account_id"] for r in rows]


# -- followed procedures ---------------------------------------------------------------------

async def follow(conn: asyncpg.Connection, procedure_id: uuid.UUID, *,
                 listing_id: uuid.UUID | None = None) -> asyncpg.Record:
    """The procedure's row, locked (made if new; ``listing_id`` filled in if known)."""
    await conn.execute(
        "INSERT INTO followed_procedures (procedure_id, listing_id) VALUES ($1, $2)"
        " ON CONFLICT (procedure_id) DO UPDATE SET listing_id = coalesce("
        " followed_procedures.listing_id, EXCLUDED.listing_id)", procedure_id, listing_id)
    return await conn.fetchrow(
        "SELECT * FROM followed_procedures WHERE procedure_id = $1 FOR UPDATE", procedure_id)


async def followed(conn: asyncpg.Connection, procedure_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM followed_procedures WHERE procedure_id = $1 FOR UPDATE", procedure_id)


async def set_ends_at(conn: asyncpg.Connection, procedure_id: uuid.UUID, ends_at: datetime
                      ) -> None:
    await conn.execute("UPDATE followed_procedures SET ends_at = $2 WHERE procedure_id = $1",
                       procedure_id, ends_at)


async def set_high_bid(conn: asyncpg.Connection, procedure_id: uuid.UUID, bidder_id: str,
                       sequence: int) -> None:
    await conn.execute(
        "UPDATE followed_procedures SET high_bidder = $2, high_sequence = $3"
        " WHERE procedure_id = $1", procedure_id, bidder_id, sequence)
    await conn.execute(
        "INSERT INTO procedure_bidders (procedure_id, bidder_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING", procedure_id, bidder_id)


async def set_flags(conn: asyncpg.Connection, procedure_id: uuid.UUID, *,
                    ended: bool | None = None, ending_told: bool | None = None) -> None:
    await conn.execute(
        "UPDATE followed_procedures SET ended = coalesce($2, ended),"
        " ending_told = coalesce($3, ending_told) WHERE procedure_id = $1",
        procedure_id, ended, ending_told)


async def bidders(conn: asyncpg.Connection, procedure_id: uuid.UUID) -> list[str]:
    rows = await conn.fetch(
        "SELECT bidder_id FROM procedure_bidders WHERE procedure_id = $1 ORDER BY bidder_id",
        procedure_id)
    return [r["bidder_id"] for r in rows]


async def remember_objector(conn: asyncpg.Connection, objection_id: uuid.UUID,
                            procedure_id: uuid.UUID, account_id: str) -> None:
    await conn.execute(
        "INSERT INTO objection_filers (objection_id, procedure_id, account_id)"
        " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", objection_id, procedure_id, account_id)


async def objector(conn: asyncpg.Connection, objection_id: uuid.UUID) -> str | None:
    return await conn.fetchval(
        "SELECT account_id FROM objection_filers WHERE objection_id = $1", objection_id)


# -- webhooks --------------------------------------------------------------------------------

async def insert_webhook(conn: asyncpg.Connection, *, webhook_id: uuid.UUID, account_id: str,
                         url: str, secret: str, kinds: list[str] | None, now: datetime
                         ) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO webhooks (id, account_id, url, secret, kinds, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        webhook_id, account_id, url, secret, kinds, now)


async def count_webhooks(conn: asyncpg.Connection, account_id: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM webhooks WHERE account_id = $1",
                               account_id)


async def webhooks_of(db: Db, account_id: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM webhooks WHERE account_id = $1 ORDER BY created_at, id", account_id)


async def delete_webhook(conn: asyncpg.Connection, account_id: str, webhook_id: uuid.UUID
                         ) -> asyncpg.Record | None:
    return await conn.fetchrow("DELETE FROM webhooks WHERE account_id = $1 AND id = $2"
                               " RETURNING *", account_id, webhook_id)


async def claim_due_deliveries(conn: asyncpg.Connection, now: datetime, lease_until: datetime,
                               limit: int) -> list[asyncpg.Record]:
    """Due pending deliveries with what sending them needs; each is leased (its next attempt
    moved to ``lease_until``) so another sender leaves it alone while it is on its way."""
    return await conn.fetch(
        "WITH due AS (SELECT id FROM webhook_deliveries WHERE status = 'pending'"
        "  AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $3"
        "  FOR UPDATE SKIP LOCKED),"
        " leased AS (UPDATE webhook_deliveries d SET next_attempt_at = $2 FROM due"
        "  WHERE d.id = due.id RETURNING d.*)"
        " SELECT leased.id, leased.attempts, leased.notification_id, w.url, w.secret,"
        "  n.kind, n.data, n.created_at, n.account_id"
        " FROM leased JOIN webhooks w ON w.id = leased.webhook_id"
        " JOIN notifications n ON n.id = leased.notification_id ORDER BY leased.id",
        now, lease_until, limit)


async def delivery_done(conn: asyncpg.Connection, delivery_id: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1,"
        " delivered_at = $2, last_error = NULL WHERE id = $1 AND status = 'pending'",
        delivery_id, now)


async def delivery_failed(conn: asyncpg.Connection, delivery_id: int, *, error: str,
                          next_attempt_at: datetime | None) -> None:
    """One more failed attempt: tried again at ``next_attempt_at``, or dead without one."""
    await conn.execute(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = $2,"
        " status = CASE WHEN $3::timestamptz IS NULL THEN 'dead' ELSE status END,"
        " next_attempt_at = coalesce($3, next_attempt_at)"
        " WHERE id = $1 AND status = 'pending'", delivery_id, error[:500], next_attempt_at)


async def deliveries_of(db: Db, webhook_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id", webhook_id)
