"""The year-to-date totals the target progress needs, from the rollups in one query."""

from __future__ import annotations

import asyncpg


async def year_to_date(pool: asyncpg.Pool, regions: list[str], years: list[int],
                       through_month: int) -> dict[tuple[str, int], tuple[int, int]]:
    """(region, year) -> (contracts, amount_fen) of months 1 to ``through_month``; regions
    without registrations are absent."""
    rows = await pool.fetch(
        "SELECT region, year, sum(contracts)::bigint AS contracts,"
        " sum(amount_fen)::bigint AS amount_fen FROM contract_stats"
        " WHERE region = ANY($1::text[]) AND year = ANY($2::int[]) AND month BETWEEN 1 AND $3"
        " AND dimension = 'total' AND key = '' GROUP BY region, year",
        regions, years, through_month)
    return {(r["region"], r["year"]): (r["contracts"], r["amount_fen"]) for r in rows}
