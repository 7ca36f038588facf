"""Achievements (科技成果) as the listing service holds them. Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.events.listing import ListingCreated


class Status(StrEnum):
    DRAFT = "draft"


@dataclass(frozen=True)
class Achievement:
    id: uuid.UUID
    title: str
    abstract: str
    region: str
    seller_id: str
    status: Status
    created_at: datetime
    updated_at: datetime

    @classmethod
    def draft(
        cls, *, title: str, abstract: str, region: str, seller_id: str, now: datetime
    ) -> tuple[Achievement, ListingCreated]:
        """A new draft listing and the event that records it."""
        achievement = cls(
            id=uuid.uuid4(), title=title.strip(), abstract=abstract.strip(), region=region,
            seller_id=seller_id, status=Status.DRAFT, created_at=now, updated_at=now,
        )
        event = ListingCreated(
            listing_id=achievement.id, title=achievement.title, seller_id=seller_id,
            region=region, created_at=now,
        )
        return achievement, event
