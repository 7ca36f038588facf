"""The public face of the listing service (issue 14): published achievements and open
demands for anyone, without a token, limited per client address.

Every answer is a ``Public*`` model of :mod:`services.listing.schemas`, filled field by field,
so nothing private (a reject reason, the security review, the dual-use flag, who filed it)
can leave by accident. A listing that was never published, or was rejected or withdrawn, is
not found; a closed or awarded demand is still found by its id, but not listed.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.listing.domain.achievement import SEARCHABLE_STATUSES
from services.listing.metrics import SEARCH_SECONDS
from services.listing.schemas import (
    OpenDemandQuery,
    Places,
    PublicAchievement,
    PublicAchievementHit,
    PublicAchievementPage,
    PublicDemand,
    PublicDemandHit,
    PublicDemandPage,
    PublishedAchievementQuery,
)
from services.listing.store import achievements, demands, search
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.ratelimit import per_address, rate_limited
from shared.service import runtime_of

router = APIRouter(
    prefix="/public", tags=["public"],
    dependencies=[per_address("public")],
    responses={422: PROBLEM_RESPONSES[422], 503: PROBLEM_RESPONSES[503],
               **rate_limited("public")},
)
NOT_FOUND = {404: PROBLEM_RESPONSES[404]}


@router.get("/achievements", response_model=PublicAchievementPage)
async def published_achievements(query: Annotated[PublishedAchievementQuery, Query()],
                                 request: Request) -> PublicAchievementPage:
    """Published, in-transaction and traded achievements by Chinese text and filters, as
    ``/search/achievements`` finds them; `sort=newest` for the newest first.

    Repeat a list parameter for "any of". Pass `next_cursor` back as `cursor` for the next
    page.
    """
    with SEARCH_SECONDS.labels("public_achievements").time():
        runtime = runtime_of(request)
        page = await search.search_achievements(runtime.pool, query.search(),
                                                Places.of(runtime.common))
    return PublicAchievementPage(items=[PublicAchievementHit.of(h) for h in page.items],
                                 next_cursor=page.next_cursor)


@router.get("/achievements/{achievement_id}", response_model=PublicAchievement,
            responses=NOT_FOUND)
async def published_achievement(achievement_id: uuid.UUID, request: Request
                                ) -> PublicAchievement:
    """An achievement once published (also while in a transaction, traded or expired)."""
    a = await achievements.get_achievement(runtime_of(request).pool, achievement_id)
    if a is None or a.status not in SEARCHABLE_STATUSES:
        raise not_found(f"No published achievement {achievement_id}.")
    return PublicAchievement.of(a)


@router.get("/demands", response_model=PublicDemandPage)
async def open_demands(query: Annotated[OpenDemandQuery, Query()], request: Request
                       ) -> PublicDemandPage:
    """Open technology demands (揭榜挂帅) by Chinese text, field and region."""
    with SEARCH_SECONDS.labels("public_demands").time():
        page = await search.search_demands(runtime_of(request).pool, query.search())
    return PublicDemandPage(items=[PublicDemandHit.of(h) for h in page.items],
                            next_cursor=page.next_cursor)


@router.get("/demands/{demand_id}", response_model=PublicDemand, responses=NOT_FOUND)
async def demand(demand_id: uuid.UUID, request: Request) -> PublicDemand:
    """A technology demand and how many answers its call has had, whatever its status."""
    found = await demands.demand_and_proposals_count(runtime_of(request).pool, demand_id)
    if found is None:
        raise not_found(f"No demand {demand_id}.")
    return PublicDemand.of(*found)
