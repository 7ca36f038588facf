"""The federation's figures: cross-province flows of a region, and the national hub's.

A deployment whose federation file makes it the national hub (region 000000) registers
nothing — every command on contracts answers 409 ``registry-national-hub`` — and serves the
national statistics and the province × province flow matrix from all its partners' contract
summaries (:mod:`services.registry.store.summaries`).
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Request

from services.registry.domain.errors import (
    NationalHubFiling,
    NotTheNationalHub,
    StatisticsNotPublished,
)
from services.registry.domain.statistics import published_at
from services.registry.routes.statistics import Month, Year, region_name
from services.registry.schemas import (
    FlowMatrix,
    MatrixCell,
    NationalStatistics,
    PublicNationalStatistics,
    PublicStatisticsRow,
    Row,
)
from services.registry.store import summaries
from shared.auth import Principal, Role, require
from shared.problems import PROBLEM_RESPONSES
from shared.ratelimit import per_address, rate_limited
from shared.service import runtime_of
from shared.settings import CommonSettings

__all__ = ["is_national_hub", "public_router", "refuse_on_the_hub", "router"]

router = APIRouter(tags=["statistics"], responses=PROBLEM_RESPONSES)
public_router = APIRouter(
    prefix="/public", tags=["public"], dependencies=[per_address("public")],
    responses={**{s: PROBLEM_RESPONSES[s] for s in (404, 422, 503)}, **rate_limited("public")})

NationalReader = Annotated[Principal, Depends(require(Role.REGULATOR, Role.OPERATOR))]
"""A regulator or operator of any region: the national figures are those of every province."""


def is_national_hub(common: CommonSettings) -> bool:
    federation = common.federation
    return federation is not None and federation.national_hub


async def refuse_on_the_hub(request: Request) -> None:
    """A dependency of the contract commands: the national hub files and decides nothing."""
    if request.method != "GET" and is_national_hub(runtime_of(request).common):
        raise NationalHubFiling("The national hub registers no contracts: file it at the "
                                "registry of the seller's province.")


def _hub(request: Request) -> asyncpg.Pool:
    runtime = runtime_of(request)
    if not is_national_hub(runtime.common):
        raise NotTheNationalHub("This deployment is a province's: the national statistics "
                                "are the national hub's.")
    return runtime.pool


# -- the national hub ---------------------------------------------------------------------------
def _names(by: str, key: str) -> str | None:
    return region_name(key) if by == "province" else None


@router.get("/statistics/national", response_model=NationalStatistics)
async def national_statistics(request: Request, _: NationalReader, year: Year,
                              month: Month = None) -> NationalStatistics:
    """The national hub's figures of ``month`` of ``year`` (the whole year without), the
    running period included: contracts and technology transaction amount, by the seller's
    province, by category and by field, from every province's summaries."""
    (contracts, amount), rows = await summaries.national(_hub(request), year, month)
    return NationalStatistics(
        year=year, month=month, contracts=contracts, tech_amount_fen=amount,
        **{f"by_{by}": [Row(key=r["key"], name=_names(by, r["key"]), contracts=r["contracts"],
                            tech_amount_fen=r["amount_fen"]) for r in found]
           for by, found in rows.items()})


@router.get("/statistics/matrix", response_model=FlowMatrix)
async def flow_matrix(request: Request, _: NationalReader, year: Year,
                      month: Month = None) -> FlowMatrix:
    """Province × province: the contracts (and amount) of sellers of one province with
    buyers of another, the diagonal within a province; one cell per pair with contracts."""
    cells = await summaries.matrix(_hub(request), year, month)
    return FlowMatrix(year=year, month=month, cells=[MatrixCell(**dict(c)) for c in cells])


@public_router.get("/statistics/national", response_model=PublicNationalStatistics)
async def public_national_statistics(request: Request, year: Year, month: Month = None
                                     ) -> PublicNationalStatistics:
    """The national hub's published figures of an ended month (or year), as
    ``/statistics/national``; a period still running answers 404
    ``registry-statistics-not-published``, as ``/public/statistics``."""
    pool = _hub(request)
    ends = published_at(year, month)
    if runtime_of(request).clock.now() < ends:
        period = f"{year}-{month:02d}" if month else str(year)
        raise StatisticsNotPublished(
            f"The statistics of {period} are published when it ends, at {ends.isoformat()}.",
            published_at=ends.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    (contracts, amount), rows = await summaries.national(pool, year, month)
    return PublicNationalStatistics(
        year=year, month=month, published_at=ends.astimezone(UTC), contracts=contracts,
        tech_amount_fen=amount,
        **{f"by_{by}": [PublicStatisticsRow(key=r["key"], name=_names(by, r["key"]),
                                            contracts=r["contracts"],
                                            tech_amount_fen=r["amount_fen"]) for r in found]
           for by, found in rows.items()})
