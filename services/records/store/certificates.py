"""Certificates: their serial numbers, the issued certificates and their cancellation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg


async def next_serial(conn: asyncpg.Connection, kind: str, region: str, year: int) -> int:
    return await conn.fetchval(
        "INSERT INTO certificate_serials (kind, region, year, last) VALUES ($1, $2, $3, 1)"
        " ON CONFLICT (kind, region, year) DO UPDATE SET last = certificate_serials.last + 1"
        " RETURNING last", kind, region, year)


async def issued_for(conn: asyncpg.Connection, source_event: str) -> str | None:
    return await conn.fetchval(
        "SELECT number FROM certificates WHERE source_event = $1", source_event)


async def insert(conn: asyncpg.Connection, *, number: str, kind: str, region: str,
                 procedure_id: str | None, deal_id: str | None, contract_id: str | None,
                 parties: Sequence[str], essentials: dict, signature: bytes,
                 issued_at: datetime, source_event: str) -> None:
    await conn.execute(
        "INSERT INTO certificates (number, kind, region, procedure_id, deal_id, contract_id,"
        " parties, essentials, signature, issued_at, source_event)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)",
        number, kind, region, procedure_id, deal_id, contract_id, list(parties),
        json.dumps(essentials, ensure_ascii=False), signature, issued_at, source_event)


async def unrendered(conn: asyncpg.Connection | asyncpg.Pool, limit: int = 20
                     ) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT number, kind, region, procedure_id, essentials, signature FROM certificates"
        " WHERE pdf IS NULL ORDER BY issued_at LIMIT $1", limit)


async def keep_pdf(conn: asyncpg.Connection, number: str, pdf: bytes, sha256: str) -> bool:
    """Keep the certificate's PDF once; False when another process kept it first."""
    return bool(await conn.fetchval(
        "UPDATE certificates SET pdf = $2, pdf_sha256 = $3 WHERE number = $1 AND pdf IS NULL"
        " RETURNING true", number, pdf, sha256))


async def of_party(pool: asyncpg.Pool, party: str, limit: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM certificates WHERE $1 = ANY(parties) ORDER BY issued_at DESC LIMIT $2",
        party, limit)


async def cancel(conn: asyncpg.Connection, *, deal_id: str | None, contract_id: str | None,
                 kinds: Sequence[str], reason: str, at: datetime) -> list[asyncpg.Record]:
    """Cancel the standing certificates of a deal or a contract; the ones cancelled now."""
    return await conn.fetch(
        "UPDATE certificates SET cancelled_at = $3, cancel_reason = $4"
        " WHERE cancelled_at IS NULL AND (deal_id = $1 OR contract_id = $2)"
        " AND kind = ANY($5::text[]) RETURNING number, region, kind",
        deal_id, contract_id, at, reason, list(kinds))


async def one(pool: asyncpg.Pool | asyncpg.Connection, number: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM certificates WHERE number = $1", number)


async def of_procedure(pool: asyncpg.Pool, procedure_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM certificates WHERE procedure_id = $1 ORDER BY issued_at", procedure_id)


async def signing_key(conn: asyncpg.Connection | asyncpg.Pool) -> str | None:
    return await conn.fetchval("SELECT private_pem FROM signing_key")


async def keep_signing_key(conn: asyncpg.Connection | asyncpg.Pool, pem: str) -> str:
    """Keep ``pem`` unless a key is kept already; the key kept."""
    await conn.execute("INSERT INTO signing_key (private_pem) VALUES ($1) ON CONFLICT DO NOTHING",
                       pem)
    return await conn.fetchval("SELECT private_pem FROM signing_key")
