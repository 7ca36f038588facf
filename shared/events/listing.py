"""Events of the listing aggregate (a technology offered on the exchange)."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from shared.events.base import Event, register

__all__ = ["ListingCreated"]


@register
class ListingCreated(Event):
    """A seller published a new technology listing."""

    aggregate: ClassVar[str] = "listing"
    name: ClassVar[str] = "created"
    version: ClassVar[int] = 1
    subject_field: ClassVar[str] = "listing_id"

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "listing_id": "3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06",
                    "title": "石墨烯改性防腐涂料制备技术",
                    "seller_id": "b7e4d2c1-0a9f-4e36-8d15-6c2f3a9b8e40",
                    "region": "230102",
                    "created_at": "2025-03-18T09:30:00+08:00",
                }
            ]
        }
    )

    listing_id: UUID
    title: str = Field(min_length=1, max_length=200)
    seller_id: str
    region: str = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code")
    created_at: AwareDatetime
