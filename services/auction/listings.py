"""Listings as the auction service knows them from the listing service's events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from services.auction import repository
from shared.auth import Principal, Role, require
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.service import runtime_of

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
        raise not_found(f"No listing {listing_id} has reached the auction service.")
    return KnownListing(**dict(row))
