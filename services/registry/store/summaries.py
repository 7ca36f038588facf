"""The public contract summaries (``contract_summaries``): kept at their latest revision, read
by the cross-province flows and the national hub's figures."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from shared.events.public.contracts import ContractSummary, PublicContractCancelled, province_of

_UPSERT = """
INSERT INTO contract_summaries (contract_key, origin, registration_number, revision, status,
    received_from, year, month, seller_region, buyer_region, seller_province, buyer_province,
    cross_border, category, tech_field, total_amount_fen, tech_amount_fen, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
ON CONFLICT (contract_key) DO UPDATE SET
    revision = EXCLUDED.revision, status = EXCLUDED.status,
    received_from = EXCLUDED.received_from, year = EXCLUDED.year, month = EXCLUDED.month,
    seller_region = EXCLUDED.seller_region, buyer_region = EXCLUDED.buyer_region,
    seller_province = EXCLUDED.seller_province, buyer_province = EXCLUDED.buyer_province,
    cross_border = EXCLUDED.cross_border, category = EXCLUDED.category,
    tech_field = EXCLUDED.tech_field, total_amount_fen = EXCLUDED.total_amount_fen,
    tech_amount_fen = EXCLUDED.tech_amount_fen, updated_at = EXCLUDED.updated_at
WHERE contract_summaries.revision < EXCLUDED.revision
  AND (contract_summaries.received_from IS NOT NULL OR EXCLUDED.received_from IS NULL)
RETURNING true
"""


async def record(conn: asyncpg.Connection, summary: ContractSummary, received_from: str | None,
                 at: datetime) -> bool:
    """Keep ``summary`` unless a revision as high is kept already (or it is a partner's word
    on one of this deployment's own contracts); True when it was kept."""
    day = summary.registered_on
    return bool(await conn.fetchval(
        _UPSERT, summary.contract_key, summary.origin, summary.registration_number,
        summary.revision,
        "cancelled" if isinstance(summary, PublicContractCancelled) else "registered",
        received_from, day.year, day.month, summary.seller_region, summary.buyer_region,
        province_of(summary.seller_region), province_of(summary.buyer_region),
        summary.cross_border, summary.category, summary.tech_field, summary.total_amount_fen,
        summary.tech_amount_fen, at))


_PERIOD = "status = 'registered' AND year = $1 AND ($2::smallint IS NULL OR month = $2)"


async def cross_province(pool: asyncpg.Pool, prefix: str, year: int, month: int | None
                         ) -> dict[str, list[asyncpg.Record]]:
    """The outflow of the regions under ``prefix`` to other provinces, by the buyer's
    province, and their inflow from other provinces, by the seller's (abroad is no province:
    not counted here). Keys ``outflow`` and ``inflow``; rows ``key``, ``contracts``,
    ``amount_fen``, largest first."""
    queries = {
        "outflow": ("buyer_province", "seller_region LIKE $3 || '%'"
                    " AND buyer_province IS NOT NULL AND buyer_province <> seller_province"),
        "inflow": ("seller_province", "buyer_region LIKE $3 || '%'"
                   " AND buyer_province <> seller_province")}
    return {direction: await pool.fetch(
        f"SELECT {other} AS key, count(*) AS contracts, sum(tech_amount_fen)::bigint"
        f" AS amount_fen FROM contract_summaries WHERE {_PERIOD} AND {where}"
        f" GROUP BY {other} ORDER BY amount_fen DESC, key", year, month, prefix)
        for direction, (other, where) in queries.items()}


async def national(pool: asyncpg.Pool, year: int, month: int | None
                   ) -> tuple[tuple[int, int], dict[str, list[asyncpg.Record]]]:
    """Every summary of the period: the totals, and rows by the seller's province, by
    category and by technology field."""
    total = await pool.fetchrow(
        f"SELECT count(*) AS contracts, coalesce(sum(tech_amount_fen), 0)::bigint AS amount_fen"
        f" FROM contract_summaries WHERE {_PERIOD}", year, month)
    rows = {by: await pool.fetch(
        f"SELECT {column} AS key, count(*) AS contracts, sum(tech_amount_fen)::bigint"
        f" AS amount_fen FROM contract_summaries WHERE {_PERIOD}"
        f" GROUP BY {column} ORDER BY amount_fen DESC, key", year, month)
        for by, column in (("province", "seller_province"), ("category", "category"),
                           ("field", "tech_field"))}
    return (total["contracts"], total["amount_fen"]), rows


async def matrix(pool: asyncpg.Pool, year: int, month: int | None) -> list[asyncpg.Record]:
    """Contracts and amount per (seller's province, buyer's province); buyers abroad left out."""
    return await pool.fetch(
        f"SELECT seller_province, buyer_province, count(*) AS contracts,"
        f" sum(tech_amount_fen)::bigint AS amount_fen FROM contract_summaries"
        f" WHERE {_PERIOD} AND buyer_province IS NOT NULL"
        f" GROUP BY seller_province, buyer_province ORDER BY seller_province, buyer_province",
        year, month)
