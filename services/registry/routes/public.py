"""The province's published statistics, for anyone (no token, rate-limited per address).

The same rollups as ``/statistics``, but only of periods that have ended on the service clock
(Asia/Shanghai): a month from midnight of the next month's first day, a year from 1 January of
the next. The running month is not published — its figures still grow with every registration.
The answer is built field by field from the totals (``PublicStatistics``), so nothing of any
one contract (id, parties, registration number) can reach it.
"""

from __future__ import annotations

from datetime import UTC

from fastapi import APIRouter, Request

from services.registry.domain.errors import StatisticsNotPublished
from services.registry.domain.statistics import YEAR, growth_percent, published_at
from services.registry.routes.cross_province import public_cross_province
from services.registry.routes.statistics import Month, RegionParam, Year, known_region, region_name
from services.registry.routes.subplatforms import target_progress
from services.registry.schemas import PublicStatistics, PublicStatisticsRow
from services.registry.store import rollups
from shared.problems import PROBLEM_RESPONSES
from shared.ratelimit import per_address, rate_limited
from shared.service import runtime_of

router = APIRouter(
    prefix="/public", tags=["public"], dependencies=[per_address("public")],
    responses={**{s: PROBLEM_RESPONSES[s] for s in (422, 503)}, **rate_limited("public")})

_NOT_PUBLISHED = {404: {**PROBLEM_RESPONSES[404], "description": (
    "The period has not ended yet on the service clock (Asia/Shanghai): the current or a "
    "future month or year is not published; `published_at` in the problem tells when it "
    "will be")}}


@router.get("/statistics", response_model=PublicStatistics, responses=_NOT_PUBLISHED)
async def public_statistics(request: Request, region: RegionParam, year: Year,
                            month: Month = None) -> PublicStatistics:
    """The published statistics of ``region`` (its subtree) for ``month`` of ``year``, or
    for the whole ``year`` without a month: contracts and technology transaction amount,
    year-on-year growth, and the turnover by region (the regions directly under it), by
    contract category and by flow (outflow, inflow, internal).

    Only ended periods are published: the current or a future month (or year) answers 404
    `registry-statistics-not-published` rather than an empty set, so a reader cannot take
    a period still running for one without contracts. An ended period without contracts
    answers zeros. The figures of a published period still change when one of its
    registered contracts is later cancelled or amended, as in ``/statistics``."""
    runtime = runtime_of(request)
    known = known_region(region)
    ends = published_at(year, month)
    if runtime.clock.now() < ends:
        period = f"{year}-{month:02d}" if month else str(year)
        raise StatisticsNotPublished(
            f"The statistics of {period} are published when it ends, at {ends.isoformat()}.",
            published_at=ends.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    pool, bucket = runtime.pool, month or YEAR
    contracts, amount = await rollups.figures(pool, region, year, bucket)
    _, previous = await rollups.figures(pool, region, year - 1, bucket)

    def rows(records, names: bool = False) -> list[PublicStatisticsRow]:
        return [PublicStatisticsRow(key=r["key"], name=region_name(r["key"]) if names else None,
                                    contracts=r["contracts"], tech_amount_fen=r["amount_fen"])
                for r in records]

    own, subplatforms = await target_progress(runtime, region, year, month)
    return PublicStatistics(
        region=region, name=known.full_name, year=year, month=month,
        published_at=ends.astimezone(UTC), contracts=contracts, tech_amount_fen=amount,
        previous_year_tech_amount_fen=previous, growth_percent=growth_percent(amount, previous),
        by_region=rows(await rollups.children(pool, region, year, bucket), names=True),
        by_category=rows(await rollups.breakdown(pool, region, year, bucket, "category")),
        by_flow=rows(await rollups.breakdown(pool, region, year, bucket, "flow")),
        target=own, subplatforms=subplatforms,
        cross_province=await public_cross_province(pool, region, year, month))
