"""The regulator's index of procedures (``procedures``), kept from archived events."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.records.domain.archive import Archived


async def follow(conn: asyncpg.Connection, event: Archived) -> None:
    """Keep the index current with one archived event of a procedure (others pass)."""
    p, kind = event.payload, event.kind
    if kind == "auction.announced":
        await conn.execute(
            "INSERT INTO procedures (procedure_id, listing_id, region, route, announced_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (procedure_id) DO UPDATE SET"
            " listing_id = EXCLUDED.listing_id, route = EXCLUDED.route,"
            " announced_at = EXCLUDED.announced_at",
            p["procedure_id"], p["listing_id"], p["region"], p["route"], event.time)
        return
    procedure = p.get("procedure_id")
    if procedure is None or not kind.startswith(("auction.", "deal.")):
        return
    await conn.execute(
        "INSERT INTO procedures (procedure_id, region) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING", procedure, p.get("region") or event.region)
    if kind == "auction.bid_accepted":
        await conn.execute("UPDATE procedures SET bids = bids + 1 WHERE procedure_id = $1",
                           procedure)
    elif kind == "auction.objection_filed":
        await conn.execute(
            "UPDATE procedures SET objections = objections + 1 WHERE procedure_id = $1",
            procedure)
    elif kind == "deal.concluded":
        await conn.execute(
            "UPDATE procedures SET outcome = 'concluded', route = coalesce(route, $2),"
            " price_fen = $3, ended_at = $4 WHERE procedure_id = $1",
            procedure, p.get("route"), p.get("price_fen"), event.time)
    elif kind == "auction.failed":
        await conn.execute(
            "UPDATE procedures SET outcome = CASE WHEN outcome = 'defaulted' THEN outcome"
            " ELSE 'failed' END, ended_at = coalesce(ended_at, $2) WHERE procedure_id = $1",
            procedure, event.time)
    elif kind == "deal.defaulted":
        await conn.execute(
            "UPDATE procedures SET outcome = 'defaulted', ended_at = $2 WHERE procedure_id = $1",
            procedure, event.time)


async def search(pool: asyncpg.Pool, *, region: str | None, route: str | None,
                 outcome: str | None, since: datetime | None, until: datetime | None,
                 after: str | None, limit: int) -> list[asyncpg.Record]:
    """Procedures announced in [since, until) in ``region``'s subtree (a province's code
    covers its cities and counties, a city's its counties), newest first, keyset-paged."""
    return await pool.fetch(
        "SELECT * FROM procedures WHERE ($1::text IS NULL OR region LIKE $1)"
        " AND ($2::text IS NULL OR route = $2) AND ($3::text IS NULL OR outcome = $3)"
        " AND ($4::timestamptz IS NULL OR announced_at >= $4)"
        " AND ($5::timestamptz IS NULL OR announced_at < $5)"
        " AND ($6::text IS NULL OR procedure_id > $6)"
        " ORDER BY procedure_id LIMIT $7",
        region_pattern(region), route, outcome, since, until, after, limit)


async def one(pool: asyncpg.Pool | asyncpg.Connection, procedure_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM procedures WHERE procedure_id = $1", procedure_id)


def region_pattern(region: str | None) -> str | None:
    """The LIKE pattern of ``region``'s subtree: 120000 -> 12%, 120100 -> 1201%."""
    if region is None:
        return None
    if region.endswith("0000"):
        return region[:2] + "%"
    if region.endswith("00"):
        return region[:4] + "%"
    return region
