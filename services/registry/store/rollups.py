"""The statistics rollups: kept in the registering transaction, read by the statistics API.

``apply`` adds one contract's :func:`~services.registry.domain.statistics.deltas` (or takes
them away on cancellation) with one upsert. ``rebuild`` computes the same rows from the
registered contracts in bulk SQL — the same rules as ``deltas``, written as a query; the tests
check both agree, and the benchmark loads its contracts through it.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.registry.domain.statistics import Delta, chain_rows

_UPSERT = """
INSERT INTO contract_stats (region, year, month, dimension, key, parent, contracts, amount_fen)
SELECT * FROM unnest($1::char(6)[], $2::smallint[], $3::smallint[], $4::text[], $5::text[],
                     $6::char(6)[], $7::bigint[], $8::bigint[])
ON CONFLICT (region, year, month, dimension, key) DO UPDATE
SET contracts = contract_stats.contracts + EXCLUDED.contracts,
    amount_fen = contract_stats.amount_fen + EXCLUDED.amount_fen
"""


async def apply(conn: asyncpg.Connection, deltas: Sequence[Delta]) -> None:
    """Add the rows in their (sorted) order, so concurrent registrations lock alike."""
    if not deltas:
        return
    await conn.execute(_UPSERT, *(list(col) for col in zip(*(
        (d.region, d.year, d.month, d.dimension, d.key, d.parent, d.contracts, d.amount_fen)
        for d in deltas), strict=True)))


# The rules of deltas() as one query. Region chains come from a temporary table filled from
# domain.statistics.chain_rows(), so the county → city → province rules exist once, in Python.
_REBUILD_MONTHS = """
WITH c AS (
    SELECT region AS seller, buyer_region AS buyer, stat_year AS y, stat_month AS m,
           category, tech_field, entity_type, ip_type, cross_border, tech_amount_fen AS amt
    FROM contracts WHERE status = 'registered'
), seller_side AS (
    SELECT s.r, s.parent, c.y, c.m, d.dim, d.key, c.amt
    FROM c JOIN region_chains s ON s.code = c.seller
    LEFT JOIN region_chains b ON b.code = c.buyer AND b.r = s.r
    CROSS JOIN LATERAL (VALUES
        ('total', ''), ('category', c.category), ('field', c.tech_field),
        ('entity_type', c.entity_type), ('ip_type', c.ip_type),
        ('cross_border', CASE WHEN c.cross_border THEN 'cross_border' ELSE 'domestic' END),
        ('flow', CASE WHEN b.r IS NULL THEN 'outflow' ELSE 'internal' END)) d(dim, key)
), buyer_side AS (
    SELECT b.r, b.parent, c.y, c.m, 'flow' AS dim, 'inflow' AS key, c.amt
    FROM c JOIN region_chains b ON b.code = c.buyer
    LEFT JOIN region_chains s ON s.code = c.seller AND s.r = b.r
    WHERE s.r IS NULL
)
INSERT INTO contract_stats (region, year, month, dimension, key, parent, contracts, amount_fen)
SELECT r, y, m, dim, key, parent, count(*), sum(amt)
FROM (SELECT * FROM seller_side UNION ALL SELECT * FROM buyer_side) rows
GROUP BY r, y, m, dim, key, parent
"""

_REBUILD_YEARS = """
INSERT INTO contract_stats (region, year, month, dimension, key, parent, contracts, amount_fen)
SELECT region, year, 0, dimension, key, parent, sum(contracts), sum(amount_fen)
FROM contract_stats WHERE month > 0
GROUP BY region, year, dimension, key, parent
"""


async def rebuild(conn: asyncpg.Connection) -> None:
    """Recompute every rollup from the registered contracts (bulk loads, audits)."""
    codes = [r["c"] for r in await conn.fetch(
        "SELECT DISTINCT region AS c FROM contracts WHERE status = 'registered'"
        " UNION SELECT DISTINCT buyer_region FROM contracts"
        " WHERE status = 'registered' AND buyer_region IS NOT NULL")]
    rows = chain_rows(codes)
    async with conn.transaction():
        await conn.execute(
            "CREATE TEMPORARY TABLE region_chains (code char(6), r char(6), parent char(6))"
            " ON COMMIT DROP")
        await conn.copy_records_to_table("region_chains", records=rows)
        await conn.execute("ANALYZE region_chains")
        await conn.execute("TRUNCATE contract_stats")
        await conn.execute(_REBUILD_MONTHS)
        await conn.execute(_REBUILD_YEARS)


async def figures(pool: asyncpg.Pool, region: str, year: int, month: int) -> tuple[int, int]:
    row = await pool.fetchrow(
        "SELECT contracts, amount_fen FROM contract_stats WHERE region = $1 AND year = $2"
        " AND month = $3 AND dimension = 'total' AND key = ''", region, year, month)
    return (row["contracts"], row["amount_fen"]) if row else (0, 0)


async def breakdown(pool: asyncpg.Pool, region: str, year: int, month: int,
                    dimension: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT key, contracts, amount_fen FROM contract_stats WHERE region = $1 AND year = $2"
        " AND month = $3 AND dimension = $4 AND contracts <> 0 ORDER BY amount_fen DESC, key",
        region, year, month, dimension)


async def children(pool: asyncpg.Pool, region: str, year: int, month: int
                   ) -> list[asyncpg.Record]:
    """The totals of the regions directly under ``region`` (cities of a province …)."""
    return await pool.fetch(
        "SELECT region AS key, contracts, amount_fen FROM contract_stats WHERE parent = $1"
        " AND year = $2 AND month = $3 AND dimension = 'total' AND contracts <> 0"
        " ORDER BY amount_fen DESC, region", region, year, month)


async def months(pool: asyncpg.Pool, region: str, year: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT month::text AS key, contracts, amount_fen FROM contract_stats WHERE region = $1"
        " AND year = $2 AND month > 0 AND dimension = 'total' AND key = '' ORDER BY month",
        region, year)
