"""asyncpg SQL of the registry service: known listings, contracts, filings, registrars."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from shared.events.listing import ListingCreated
from shared.regions import Region, RegionLevel

_PREFIX = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.COUNTY: 6}

_CONTRACT_COLUMNS = (
    "id, deal_id, listing_id, seller_id, region, status, terms, registration_number,"
    " registrar_region, registrar_code, registered_at, created_at, updated_at, stat_year,"
    " stat_month, buyer_region, category, tech_field, entity_type, ip_type, cross_border,"
    " tech_amount_fen")
_FILING_COLUMNS = ("id, contract_id, kind, status, region, terms, reason, filed_by, filed_at,"
                   " due_at, decided_by, decided_at, reasons")


async def record_listing(conn: asyncpg.Connection, event: ListingCreated) -> None:
    snap = event.listing
    await conn.execute(
        "INSERT INTO listings (listing_id, title, region, seller_id, created_at, tech_field,"
        " ip_type, ip_numbers, holders) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (listing_id) DO UPDATE SET events_applied = listings.events_applied + 1",
        event.listing_id, snap.title, event.region, event.seller_id, event.occurred_at,
        snap.field, snap.ip_type, list(snap.ip_numbers),
        json.dumps([h.model_dump() for h in snap.holders], ensure_ascii=False),
    )


async def listing_for_draft(conn: asyncpg.Connection, listing_id: uuid.UUID | None
                            ) -> asyncpg.Record | None:
    if listing_id is None:
        return None
    return await conn.fetchrow(
        "SELECT title, region, seller_id, tech_field, ip_type, ip_numbers, holders"
        " FROM listings WHERE listing_id = $1", listing_id)


async def insert_contract(conn: asyncpg.Connection, *, contract_id: uuid.UUID,
                          deal_id: uuid.UUID | None, listing_id: uuid.UUID | None,
                          seller_id: str, region: str, status: str, terms: dict[str, Any],
                          at: datetime) -> bool:
    """Insert a contract; False if one exists for the deal already."""
    return bool(await conn.fetchval(
        "INSERT INTO contracts (id, deal_id, listing_id, seller_id, region, status, terms,"
        " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
        " ON CONFLICT (deal_id) DO NOTHING RETURNING true",
        contract_id, deal_id, listing_id, seller_id, region, status,
        json.dumps(terms, ensure_ascii=False, default=str), at))


async def get_contract(conn: asyncpg.Connection | asyncpg.Pool, contract_id: uuid.UUID,
                       *, lock: bool = False) -> asyncpg.Record | None:
    sql = f"SELECT {_CONTRACT_COLUMNS} FROM contracts WHERE id = $1"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), contract_id)


async def update_contract(conn: asyncpg.Connection, contract_id: uuid.UUID, at: datetime,
                          **columns: Any) -> None:
    if "terms" in columns:
        columns["terms"] = json.dumps(columns["terms"], ensure_ascii=False, default=str)
    names = list(columns)
    sets = ", ".join(f"{n} = ${i + 3}" for i, n in enumerate(names))
    await conn.execute(f"UPDATE contracts SET updated_at = $2, {sets} WHERE id = $1",
                       contract_id, at, *(columns[n] for n in names))


async def drafts_of(pool: asyncpg.Pool, seller_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        f"SELECT {_CONTRACT_COLUMNS} FROM contracts WHERE seller_id = $1 AND status = 'draft'"
        " ORDER BY created_at, id", seller_id)


async def insert_filing(conn: asyncpg.Connection, *, filing_id: uuid.UUID,
                        contract_id: uuid.UUID, kind: str, region: str,
                        terms: dict[str, Any] | None, reason: str, filed_by: str,
                        filed_at: datetime, due_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO filings (id, contract_id, kind, status, region, terms, reason, filed_by,"
        " filed_at, due_at) VALUES ($1, $2, $3, 'filed', $4, $5, $6, $7, $8, $9)",
        filing_id, contract_id, kind, region,
        None if terms is None else json.dumps(terms, ensure_ascii=False, default=str),
        reason, filed_by, filed_at, due_at)


async def pending_filing(conn: asyncpg.Connection, contract_id: uuid.UUID
                         ) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_FILING_COLUMNS} FROM filings WHERE contract_id = $1 AND status = 'filed'"
        " FOR UPDATE", contract_id)


async def decide_filing(conn: asyncpg.Connection, filing_id: uuid.UUID, status: str,
                        by: str, at: datetime, reasons: list[dict[str, str]] | None) -> None:
    await conn.execute(
        "UPDATE filings SET status = $2, decided_by = $3, decided_at = $4, reasons = $5"
        " WHERE id = $1", filing_id, status, by, at,
        None if reasons is None else json.dumps(reasons, ensure_ascii=False))


async def filings_of(conn: asyncpg.Connection | asyncpg.Pool, contract_id: uuid.UUID
                     ) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_FILING_COLUMNS} FROM filings WHERE contract_id = $1 ORDER BY filed_at, id",
        contract_id)


async def pending_filings(pool: asyncpg.Pool, region: str, now: datetime, overdue: bool,
                          limit: int) -> list[asyncpg.Record]:
    """Filings awaiting a decision in the region's subtree, oldest deadline first."""
    prefix = subtree_prefix(region)
    return await pool.fetch(
        f"SELECT {_FILING_COLUMNS} FROM filings WHERE status = 'filed'"
        " AND region LIKE $1 || '%' AND ($2::boolean IS FALSE OR due_at < $3)"
        " ORDER BY due_at, id LIMIT $4", prefix, overdue, now, limit)


def subtree_prefix(region: str) -> str:
    """The code prefix every region inside ``region`` shares."""
    r = Region.parse(region)
    return r.code[:_PREFIX[r.level]]


async def registrar_code(conn: asyncpg.Connection, region: str, subject: str) -> int | None:
    """The registrar's two-digit code, assigned on first use in order (None when the region
    has 99 registrars already). Runs in the registering transaction."""
    code = await conn.fetchval(
        "SELECT code FROM registrars WHERE region = $1 AND subject = $2", region, subject)
    if code is not None:
        return code
    # Serialise first-time assignment per region so two new registrars never take one code.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('registrar:' || $1))", region)
    return await conn.fetchval(
        "INSERT INTO registrars (region, subject, code)"
        " SELECT $1, $2, coalesce(max(code), 0) + 1 FROM registrars WHERE region = $1"
        " HAVING coalesce(max(code), 0) < 99"
        " ON CONFLICT (region, subject) DO UPDATE SET code = registrars.code RETURNING code",
        region, subject)


async def next_sequence(conn: asyncpg.Connection, year: int, region: str, code: int) -> int:
    """The registrar's next number of the year; the counter row stays locked until commit,
    so numbers are handed out in commit order and a rollback leaves no gap."""
    return await conn.fetchval(
        "INSERT INTO registration_counters (year, region, registrar_code, last)"
        " VALUES ($1, $2, $3, 1) ON CONFLICT (year, region, registrar_code)"
        " DO UPDATE SET last = registration_counters.last + 1 RETURNING last",
        year, region, code)


async def pending_counts(pool: asyncpg.Pool, now: datetime) -> tuple[int, int]:
    row = await pool.fetchrow(
        "SELECT count(*) AS pending, count(*) FILTER (WHERE due_at < $1) AS overdue"
        " FROM filings WHERE status = 'filed'", now)
    return row["pending"], row["overdue"]
