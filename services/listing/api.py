"""The listing service's composition root and HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.listing import handlers, repository
from services.listing.config import ListingSettings
from services.listing.domain import Achievement
from shared import idempotency
from shared.auth import Principal, Role, authorize_region, require
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.regions import RegionCode
from shared.service import ServiceSpec, build_app, runtime_of
from shared.settings import CommonSettings

router = APIRouter(tags=["achievements"], responses=PROBLEM_RESPONSES)


class AchievementIn(BaseModel):
    title: str = Field(min_length=1, max_length=200, examples=["石墨烯改性防腐涂料制备技术"])
    abstract: str = Field(default="", max_length=5000)
    region: RegionCode = Field(examples=["230102"])


class AchievementOut(BaseModel):
    id: uuid.UUID
    title: str
    abstract: str
    region: str
    seller_id: str
    status: str
    created_at: datetime

    @classmethod
    def of(cls, a: Achievement) -> AchievementOut:
        return cls(id=a.id, title=a.title, abstract=a.abstract, region=a.region,
                   seller_id=a.seller_id, status=a.status.value, created_at=a.created_at)


@router.post("/achievements", status_code=201, response_model=AchievementOut)
async def create_achievement(
    body: AchievementIn,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.SELLER))],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> JSONResponse:
    """File a new achievement as a draft (the seller's own region or one below it)."""
    authorize_region(principal, body.region)
    runtime = runtime_of(request)

    async with runtime.unit_of_work(body.region) as uow:
        async def command() -> tuple[int, dict]:
            achievement = await handlers.create_achievement(
                uow, title=body.title, abstract=body.abstract, region=body.region,
                seller_id=principal.subject,
            )
            return 201, AchievementOut.of(achievement).model_dump(mode="json")

        status, payload = await idempotency.run_once(
            uow.conn, f"listing:create-achievement:{principal.subject}", idempotency_key,
            body.model_dump(mode="json"), command,
        )
    return JSONResponse(payload, status_code=status)


@router.get("/achievements/{achievement_id}", response_model=AchievementOut)
async def get_achievement(
    achievement_id: uuid.UUID,
    request: Request,
    _: Annotated[Principal, Depends(require(*Role))],
) -> AchievementOut:
    achievement = await repository.get(runtime_of(request).pool, achievement_id)
    if achievement is None:
        raise not_found(f"No achievement {achievement_id}.")
    return AchievementOut.of(achievement)


def create_app(
    settings: ListingSettings | None = None,
    common: CommonSettings | None = None,
    run_background: bool = True,
):
    spec = ServiceSpec(
        name="listing",
        title="techex listing service",
        description="Research achievements (科技成果) and technology demands: filing, review, "
        "search and matching.",
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
    )
    return build_app(spec, settings or ListingSettings(), common, run_background=run_background)
