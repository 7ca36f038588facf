"""Regional statistics for regulators and operators, read from the rollups (never by scanning
contracts): count and technology transaction amount of a region and its breakdowns."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.registry.domain.statistics import YEAR, growth_percent
from services.registry.routes.cross_province import cross_province
from services.registry.routes.subplatforms import target_progress
from services.registry.schemas import By, Row, Statistics
from services.registry.store import rollups
from shared.auth import Principal, Role, require_region
from shared.bounds import MAX_YEAR
from shared.problems import PROBLEM_RESPONSES, ValidationFailed
from shared.regions import InvalidRegion, Region
from shared.service import runtime_of

router = APIRouter(tags=["statistics"], responses=PROBLEM_RESPONSES)

RegionReader = Annotated[Principal, Depends(require_region(Role.REGULATOR, Role.OPERATOR))]
"""A regulator or operator, of the queried region or one above it."""


async def _statistics(request: Request, region: str, year: int, month: int | None,
                      by: By) -> Statistics:
    runtime = runtime_of(request)
    known = known_region(region)
    pool, bucket = runtime.pool, month or YEAR
    contracts, amount = await rollups.figures(pool, region, year, bucket)
    _, previous = await rollups.figures(pool, region, year - 1, bucket)
    if by == "region":
        rows = await rollups.children(pool, region, year, bucket)
    elif by == "month":
        rows = await rollups.months(pool, region, year)
    else:
        rows = await rollups.breakdown(pool, region, year, bucket, by)
    growth = growth_percent(amount, previous)
    own, subplatforms = await target_progress(runtime, region, year, month)
    own_growth = own.target.growth_percent if own and own.target else None
    target = (runtime.settings.growth_target_percent  # type: ignore[attr-defined]
              if own_growth is None else own_growth)
    return Statistics(
        region=region, name=known.full_name, year=year, month=month, by=by,
        contracts=contracts, tech_amount_fen=amount, previous_year_tech_amount_fen=previous,
        growth_percent=growth, growth_target_percent=target,
        target_met=None if growth is None else Decimal(str(growth)) >= target,
        rows=[Row(key=r["key"], name=region_name(r["key"]) if by == "region" else None,
                  contracts=r["contracts"], tech_amount_fen=r["amount_fen"]) for r in rows],
        target=own, subplatforms=subplatforms,
        cross_province=await cross_province(pool, region, year, month))


def known_region(region: str) -> Region:
    """The queried region, or a 422 naming ``query.region`` when no such region exists (a
    well-formed code of no province, ``000000``, included)."""
    try:
        return Region.known(region)
    except InvalidRegion as exc:  # UnknownRegion is one
        raise ValidationFailed("The region is unknown.",
                               errors=[{"field": "query.region", "message": str(exc)}]) from exc


def region_name(code: str) -> str | None:
    region = Region.parse(code)
    return region.name if region.is_known else None


Year = Annotated[int, Query(ge=1990, le=MAX_YEAR)]
RegionParam = Annotated[str, Query(pattern=r"^[0-9]{6}$", description="GB/T 2260 code")]
Month = Annotated[int | None, Query(ge=1, le=12, description="a month; the whole year without")]


@router.get("/statistics", response_model=Statistics)
async def statistics(request: Request, _: RegionReader, region: RegionParam, year: Year,
                     month: Month = None, by: By = "region") -> Statistics:
    """Contracts and technology transaction amount of ``region`` (its subtree), with
    year-on-year growth against the target and a breakdown ``by`` one dimension."""
    return await _statistics(request, region, year, month, by)


@router.get("/statistics.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def statistics_csv(request: Request, _: RegionReader, region: RegionParam, year: Year,
                         month: Month = None, by: By = "region") -> Response:
    """The same figures as CSV: one line per breakdown row, then the total."""
    s = await _statistics(request, region, year, month, by)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["region", "year", "month", "by", "key", "name", "contracts",
                     "tech_amount_fen"])
    for r in s.rows:
        writer.writerow([s.region, s.year, s.month or "", s.by, r.key, r.name or "",
                         r.contracts, r.tech_amount_fen])
    writer.writerow([s.region, s.year, s.month or "", "total", "", s.name, s.contracts,
                     s.tech_amount_fen])
    filename = f"statistics-{s.region}-{s.year}{f'-{s.month:02d}' if s.month else ''}-{by}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
