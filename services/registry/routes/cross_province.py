"""The cross-province part of ``/statistics`` and ``/public/statistics``: a region's outflow
to and inflow from each other province, from this deployment's contract summaries and its
partners' (each contract once, see :mod:`services.registry.store.summaries`)."""

from __future__ import annotations

import asyncpg

from services.registry.domain.statistics import subtree_prefix
from services.registry.schemas import (
    CrossProvince,
    CrossProvinceRow,
    PublicCrossProvince,
    PublicCrossProvinceRow,
)
from services.registry.store import summaries
from shared.regions import Region

__all__ = ["cross_province", "public_cross_province"]

_Rows = dict[str, list[tuple[str, str | None, int, int]]]


def _name(code: str) -> str | None:
    region = Region.parse(code)
    return region.name if region.is_known else None


async def _rows(pool: asyncpg.Pool, region: str, year: int, month: int | None) -> _Rows:
    found = await summaries.cross_province(pool, subtree_prefix(region), year, month)
    return {direction: [(r["key"], _name(r["key"]), r["contracts"], r["amount_fen"])
                        for r in rows] for direction, rows in found.items()}


async def cross_province(pool: asyncpg.Pool, region: str, year: int, month: int | None
                         ) -> CrossProvince:
    """``region``'s outflow (by the buyer's province) and inflow (by the seller's)."""
    rows = await _rows(pool, region, year, month)
    return CrossProvince(**{d: [CrossProvinceRow(region=k, name=n, contracts=c,
                                                 amount_fen=a) for k, n, c, a in found]
                            for d, found in rows.items()})


async def public_cross_province(pool: asyncpg.Pool, region: str, year: int, month: int | None
                                ) -> PublicCrossProvince:
    """The same, as the public view."""
    rows = await _rows(pool, region, year, month)
    return PublicCrossProvince(**{d: [
        PublicCrossProvinceRow(region=k, name=n, contracts=c, amount_fen=a)
        for k, n, c, a in found] for d, found in rows.items()})
