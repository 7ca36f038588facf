"""The contracts with their filings (the Contract aggregate), registrars and their numbers."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.registry.domain.contract import (
    Contract,
    Filing,
    FilingKind,
    FilingStatus,
    Registration,
    Status,
)
from services.registry.domain.statistics import Facts, subtree_prefix
from shared.events.registry import RefusalReason

_CONTRACT_COLUMNS = (
    "id, deal_id, listing_id, seller_id, region, status, terms, registration_number,"
    " registrar_region, registrar_code, registered_at, created_at, updated_at, stat_year,"
    " stat_month, buyer_region, category, tech_field, entity_type, ip_type, cross_border,"
    " tech_amount_fen")
_FILING_COLUMNS = ("id, contract_id, kind, status, region, terms, reason, filed_by, filed_at,"
                   " due_at, decided_by, decided_at, reasons")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


async def load_contract(conn: asyncpg.Connection | asyncpg.Pool, contract_id: uuid.UUID,
                        *, lock: bool = False) -> Contract | None:
    """The contract with its filings; ``lock`` holds its row until commit (every change of a
    contract or its filings is made under that lock)."""
    sql = f"SELECT {_CONTRACT_COLUMNS} FROM contracts WHERE id = $1"
    row = await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), contract_id)
    if row is None:
        return None
    filings = await conn.fetch(
        f"SELECT {_FILING_COLUMNS} FROM filings WHERE contract_id = $1 ORDER BY filed_at, id",
        contract_id)
    return _contract(row, filings)


def _contract(row: asyncpg.Record, filings: list[asyncpg.Record]) -> Contract:
    registration = None if row["registration_number"] is None else Registration(
        row["registration_number"], row["registrar_region"], row["registrar_code"],
        row["registered_at"])
    facts = None if row["stat_year"] is None else Facts(
        seller_region=row["region"], buyer_region=row["buyer_region"], year=row["stat_year"],
        month=row["stat_month"], category=row["category"], tech_field=row["tech_field"],
        entity_type=row["entity_type"], ip_type=row["ip_type"],
        cross_border=row["cross_border"], tech_amount_fen=row["tech_amount_fen"])
    return Contract(
        id=row["id"], seller_id=row["seller_id"], region=row["region"],
        status=Status(row["status"]), terms=_json(row["terms"]), created_at=row["created_at"],
        deal_id=row["deal_id"], listing_id=row["listing_id"], registration=registration,
        facts=facts, filings=tuple(_filing(f) for f in filings))


def _filing(row: asyncpg.Record) -> Filing:
    reasons = _json(row["reasons"])
    return Filing(
        id=row["id"], kind=FilingKind(row["kind"]), region=row["region"],
        filed_by=row["filed_by"], filed_at=row["filed_at"], due_at=row["due_at"],
        terms=_json(row["terms"]), reason=row["reason"], status=FilingStatus(row["status"]),
        decided_by=row["decided_by"], decided_at=row["decided_at"],
        reasons=None if reasons is None else tuple(
            RefusalReason.model_validate(r) for r in reasons))


def _columns(c: Contract) -> dict[str, Any]:
    """The contract's columns but its identity and times."""
    reg, f = c.registration, c.facts
    return {
        "region": c.region, "status": c.status.value, "terms": dict(c.terms),
        "registration_number": reg and reg.number,
        "registrar_region": reg and reg.registrar_region,
        "registrar_code": reg and reg.registrar_code,
        "registered_at": reg and reg.registered_at,
        "stat_year": f and f.year, "stat_month": f and f.month,
        "buyer_region": f and f.buyer_region, "category": f and f.category,
        "tech_field": f and f.tech_field, "entity_type": f and f.entity_type,
        "ip_type": f and f.ip_type, "cross_border": f and f.cross_border,
        "tech_amount_fen": f and f.tech_amount_fen}


async def save_contract(conn: asyncpg.Connection, before: Contract | None, after: Contract,
                        at: datetime) -> bool:
    """Write what a transition changed from ``before`` (None: a new contract) to ``after``:
    its columns, its new filings, its decided ones. False when a new contract's deal has one
    already (nothing is written)."""
    columns = _columns(after)
    if before is None:
        if not await _insert_contract(conn, after, columns):
            return False
        known: dict[uuid.UUID, Filing] = {}
    else:
        was = _columns(before)
        changed = {k: v for k, v in columns.items() if was[k] != v}
        if changed:
            await _update_contract(conn, after.id, at, changed)
        known = {f.id: f for f in before.filings}
    for filing in after.filings:
        old = known.get(filing.id)
        if old is None:
            await _insert_filing(conn, after.id, filing)
        elif old != filing:
            await _decide_filing(conn, filing)
    return True


async def _insert_contract(conn: asyncpg.Connection, c: Contract,
                           columns: dict[str, Any]) -> bool:
    names = ["id", "deal_id", "listing_id", "seller_id", "created_at", "updated_at", *columns]
    values = [c.id, c.deal_id, c.listing_id, c.seller_id, c.created_at, c.created_at,
              *(_dumps(v) if k == "terms" else v for k, v in columns.items())]
    return bool(await conn.fetchval(
        f"INSERT INTO contracts ({', '.join(names)})"
        f" VALUES ({', '.join(f'${i + 1}' for i in range(len(names)))})"
        " ON CONFLICT (deal_id) DO NOTHING RETURNING true", *values))


async def _update_contract(conn: asyncpg.Connection, contract_id: uuid.UUID, at: datetime,
                           columns: dict[str, Any]) -> None:
    if "terms" in columns:
        columns = columns | {"terms": _dumps(columns["terms"])}
    names = list(columns)
    sets = ", ".join(f"{n} = ${i + 3}" for i, n in enumerate(names))
    await conn.execute(f"UPDATE contracts SET updated_at = $2, {sets} WHERE id = $1",
                       contract_id, at, *(columns[n] for n in names))


def _reasons(f: Filing) -> str | None:
    return None if f.reasons is None else _dumps([r.model_dump() for r in f.reasons])


async def _insert_filing(conn: asyncpg.Connection, contract_id: uuid.UUID, f: Filing) -> None:
    await conn.execute(
        "INSERT INTO filings (id, contract_id, kind, status, region, terms, reason, filed_by,"
        " filed_at, due_at, decided_by, decided_at, reasons)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        f.id, contract_id, f.kind.value, f.status.value, f.region,
        _dumps(None if f.terms is None else dict(f.terms)), f.reason, f.filed_by, f.filed_at,
        f.due_at, f.decided_by, f.decided_at, _reasons(f))


async def _decide_filing(conn: asyncpg.Connection, f: Filing) -> None:
    await conn.execute(
        "UPDATE filings SET status = $2, decided_by = $3, decided_at = $4, reasons = $5"
        " WHERE id = $1", f.id, f.status.value, f.decided_by, f.decided_at, _reasons(f))


async def drafts_of(pool: asyncpg.Pool, seller_id: str, deal_id: uuid.UUID | None = None
                    ) -> list[Contract]:
    """The seller's drafts (of one deal, with ``deal_id``), oldest first."""
    ids = [r["id"] for r in await pool.fetch(
        "SELECT id FROM contracts WHERE seller_id = $1 AND status = 'draft'"
        " AND ($2::uuid IS NULL OR deal_id = $2) ORDER BY created_at, id", seller_id, deal_id)]
    drafts = [await load_contract(pool, i) for i in ids]
    return [d for d in drafts if d is not None]


async def pending_filings(pool: asyncpg.Pool, region: str, now: datetime, overdue: bool,
                          limit: int) -> list[asyncpg.Record]:
    """Filings awaiting a decision in the region's subtree, oldest deadline first."""
    prefix = subtree_prefix(region)
    return await pool.fetch(
        f"SELECT {_FILING_COLUMNS} FROM filings WHERE status = 'filed'"
        " AND region LIKE $1 || '%' AND ($2::boolean IS FALSE OR due_at < $3)"
        " ORDER BY due_at, id LIMIT $4", prefix, overdue, now, limit)


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
