"""``GET /listings/{id}``: a listing as a service learnt it from the listing service's events.

The auction, settlement and registry services each keep the listings they may trade in a
``listings`` table of the same shape (their migration 0001), filled from ``ListingCreated``;
this route reads it, for operators and for tracing an event's arrival.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from shared.auth import Principal, Role, require
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.service import runtime_of


class KnownListing(BaseModel):
    listing_id: uuid.UUID
    title: str
    region: str
    seller_id: str
    created_at: datetime
    events_applied: int


def known_listings_router(service: str) -> APIRouter:
    router = APIRouter(tags=["listings"], responses=PROBLEM_RESPONSES)

    @router.get("/listings/{listing_id}", response_model=KnownListing)
    async def get_listing(
        listing_id: uuid.UUID,
        request: Request,
        _: Annotated[Principal, Depends(require(*Role))],
    ) -> KnownListing:
        """A listing as this service learnt it from the listing service's events."""
        row = await runtime_of(request).pool.fetchrow(
            "SELECT listing_id, title, region, seller_id, created_at, events_applied"
            " FROM listings WHERE listing_id = $1", listing_id)
        if row is None:
            raise not_found(f"No listing {listing_id} has reached the {service} service.")
        return KnownListing(**dict(row))

    return router
