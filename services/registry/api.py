"""The registry service's composition root and HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel

from services.registry import repository
from services.registry.config import RegistrySettings
from services.registry.consumer import HANDLERS
from services.registry.metrics import keep_gauges
from services.registry.routes import contracts, statistics
from shared.auth import Principal, Role, require
from shared.clock import Clock
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.service import ServiceSpec, build_app, runtime_of
from shared.settings import CommonSettings

router = APIRouter(tags=["listings"], responses=PROBLEM_RESPONSES)


class KnownListing(BaseModel):
    listing_id: uuid.UUID
    title: str
    region: str
    seller_id: str
    created_at: datetime
    events_applied: int


@router.get("/listings/{listing_id}", response_model=KnownListing)
async def get_listing(
    listing_id: uuid.UUID,
    request: Request,
    _: Annotated[Principal, Depends(require(*Role))],
) -> KnownListing:
    """A listing as this service learnt it from the listing service's events."""
    row = await repository.get_listing(runtime_of(request).pool, listing_id)
    if row is None:
        raise not_found(f"No listing {listing_id} has reached the registry service.")
    return KnownListing(**dict(row))


def create_app(
    settings: RegistrySettings | None = None,
    common: CommonSettings | None = None,
    run_background: bool = True,
    clock: Clock | None = None,
) -> FastAPI:
    spec = ServiceSpec(
        name="registry",
        title="techex registry service",
        description=(
            "Technology-contract registration (技术合同认定登记) and the regional statistics."
        ),
        migrations=Path(__file__).parent / "migrations",
        routers=[router, contracts.router, statistics.router],
        handlers=HANDLERS,
        background=(keep_gauges,),
    )
    return build_app(spec, settings or RegistrySettings(), common,
                     run_background=run_background, clock=clock)
