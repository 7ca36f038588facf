"""The deployment's sub-platforms, for anyone (no token, rate-limited per address), and each
region's progress against its own targets for the statistics.

The sub-platforms come from the sub-platform file (``TECHEX_SUBPLATFORMS_FILE``, see
:mod:`shared.subplatforms`); a deployment without one lists none.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Request

from services.registry.domain.targets import progress
from services.registry.schemas import (
    PublicFees,
    PublicFeeSchedule,
    PublicFeeTier,
    PublicSubplatform,
    PublicTargetProgress,
    PublicYearTarget,
)
from services.registry.store import targets as store
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.ratelimit import per_address, rate_limited
from shared.regions import Region
from shared.service import Runtime, runtime_of
from shared.subplatforms import ROUTES, Subplatform, Subplatforms, YearTarget
from shared.subplatforms import FeeSchedule as Schedule

_PUBLIC = {"tags": ["public"], "dependencies": [per_address("public")],
           "responses": {**{s: PROBLEM_RESPONSES[s] for s in (422, 503)},
                         **rate_limited("public")}}
router = APIRouter(prefix="/public", **_PUBLIC)
"""Under ``/public`` with the other public views."""
root_router = APIRouter(**_PUBLIC)
"""The same views at ``/subplatforms``: what a sub-platform is, not a figure of it."""


def _schedule(s: Schedule) -> PublicFeeSchedule:
    return PublicFeeSchedule(
        tiers=[PublicFeeTier(up_to_fen=t.up_to_fen, rate_bp=t.rate_bp) for t in s.tiers],
        minimum_fen=s.minimum_fen, maximum_fen=s.maximum_fen)


def _target(t: YearTarget) -> PublicYearTarget:
    return PublicYearTarget(year=t.year, growth_percent=t.growth_percent,
                            amount_fen=t.amount_fen, contracts=t.contracts)


def view(subs: Subplatforms, sub: Subplatform) -> PublicSubplatform:
    """A sub-platform as published, with what it inherits resolved."""
    setter, fees = subs.fees(sub.region)
    parent = subs.parent(sub)
    return PublicSubplatform(
        region=sub.region, region_name=Region.known(sub.region).full_name,
        level=sub.level.value, parent=parent and parent.region, name=sub.name,
        operator=sub.operator,
        fees=PublicFees(set_by=setter.region,
                        **{r: _schedule(fees.for_route(r)) for r in ROUTES}),
        review_days=subs.review_days(sub.region), subsidy_policy=subs.subsidy_policy(sub.region),
        targets=[_target(t) for t in sub.targets])


@router.get("/subplatforms", response_model=list[PublicSubplatform])
@root_router.get("/subplatforms", response_model=list[PublicSubplatform])
async def list_subplatforms(request: Request) -> list[PublicSubplatform]:
    """The deployment's provincial platform and its city and county sub-platforms, in code
    order: operator, fees per procedure kind, review deadline, subsidy policy and yearly
    targets. A deployment without a sub-platform file lists none."""
    subs = runtime_of(request).common.subplatforms
    return [] if subs is None else [view(subs, s) for s in subs.within(subs.province)]


RegionPath = Annotated[str, Path(pattern=r"^[0-9]{6}$", description="GB/T 2260 code")]


@router.get("/subplatforms/{region}", response_model=PublicSubplatform,
            responses={404: PROBLEM_RESPONSES[404]})
@root_router.get("/subplatforms/{region}", response_model=PublicSubplatform,
                 responses={404: PROBLEM_RESPONSES[404]})
async def get_subplatform(request: Request, region: RegionPath) -> PublicSubplatform:
    """The sub-platform of exactly ``region``; 404 when the region has none of its own."""
    subs = runtime_of(request).common.subplatforms
    sub = None if subs is None else subs.get(region)
    if subs is None or sub is None:
        raise not_found(f"Region {region} has no sub-platform of its own.")
    return view(subs, sub)


async def target_progress(runtime: Runtime, region: str, year: int, month: int | None
                          ) -> tuple[PublicTargetProgress | None, list[PublicTargetProgress]]:
    """The queried region's own target progress and that of every sub-platform inside it:
    the year so far (through ``month``, the whole year without one)."""
    subs: Subplatforms | None = runtime.common.subplatforms
    inside = [] if subs is None else subs.within(region)
    if not inside:
        return None, []
    through = month or 12
    totals = await store.year_to_date(runtime.pool, [s.region for s in inside],
                                      [year, year - 1], through)
    rows = []
    for sub in inside:
        contracts, amount = totals.get((sub.region, year), (0, 0))
        _, previous = totals.get((sub.region, year - 1), (0, 0))
        t = sub.target(year)
        p = progress(t, contracts, amount, previous)
        rows.append(PublicTargetProgress(
            region=sub.region, name=sub.name, year=year, through_month=through,
            target=None if t is None else _target(t), **asdict(p)))
    own = next((r for r in rows if r.region == region), None)
    return own, rows
