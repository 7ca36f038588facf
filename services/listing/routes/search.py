"""Search and matching over HTTP: open to every authenticated role, since listings published
anywhere in the province are discoverable from every sub-platform."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.listing.metrics import SEARCH_SECONDS
from services.listing.schemas import (
    AchievementHit,
    AchievementMatch,
    AchievementQuery,
    DemandHit,
    DemandMatch,
    DemandQuery,
    Matches,
    Page,
    Places,
)
from services.listing.store import matching, search
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.ratelimit import per_account, rate_limited
from shared.roles import Anyone
from shared.service import runtime_of

router = APIRouter(tags=["search"], responses={**PROBLEM_RESPONSES, **rate_limited("search")},
                   dependencies=[per_account("search")])


@router.get("/search/achievements", response_model=Page[AchievementHit])
async def search_achievements(
    query: Annotated[AchievementQuery, Query()], request: Request, _: Anyone,
) -> Page[AchievementHit]:
    """Published achievements by Chinese text and filters, most relevant (or newest) first.

    Repeat a list parameter for "any of": `?field=new_materials&field=energy`. A region
    matches its whole subtree. Pass `next_cursor` back as `cursor` for the next page.
    By relevance, the newest 100 matching listings are ranked; `sort=newest` pages through
    every match.
    """
    with SEARCH_SECONDS.labels("achievements").time():
        runtime = runtime_of(request)
        return await search.search_achievements(runtime.pool, query, Places.of(runtime.common))


@router.get("/search/demands", response_model=Page[DemandHit])
async def search_demands(
    query: Annotated[DemandQuery, Query()], request: Request, _: Anyone,
) -> Page[DemandHit]:
    """Technology demands by Chinese text, field and region; open ones unless asked."""
    with SEARCH_SECONDS.labels("demands").time():
        return await search.search_demands(runtime_of(request).pool, query)


@router.get("/demands/{demand_id}/matches", response_model=Matches[AchievementMatch])
async def achievements_for_demand(
    demand_id: uuid.UUID, request: Request, _: Anyone,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Matches[AchievementMatch]:
    """Published achievements that best answer the demand, with the reasons (精准对接)."""
    with SEARCH_SECONDS.labels("matches").time():
        items = await matching.achievements_for_demand(runtime_of(request).pool, demand_id,
                                                       limit)
    if items is None:
        raise not_found(f"No demand {demand_id}.")
    return Matches[AchievementMatch](items=items)


@router.get("/achievements/{achievement_id}/matches", response_model=Matches[DemandMatch])
async def demands_for_achievement(
    achievement_id: uuid.UUID, request: Request, _: Anyone,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Matches[DemandMatch]:
    """Open demands the achievement could answer, with the reasons (精准推送)."""
    with SEARCH_SECONDS.labels("matches").time():
        items = await matching.demands_for_achievement(runtime_of(request).pool,
                                                       achievement_id, limit)
    if items is None:
        raise not_found(f"No achievement {achievement_id}.")
    return Matches[DemandMatch](items=items)
