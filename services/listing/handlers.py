"""Listing commands: each runs inside a unit of work that changes state and emits events."""

from __future__ import annotations

from datetime import UTC, datetime

from services.listing import repository
from services.listing.domain import Achievement
from shared.uow import UnitOfWork


async def create_achievement(
    uow: UnitOfWork, *, title: str, abstract: str, region: str, seller_id: str
) -> Achievement:
    achievement, event = Achievement.draft(
        title=title, abstract=abstract, region=region, seller_id=seller_id,
        now=datetime.now(UTC),
    )
    await repository.insert(uow.conn, achievement)
    uow.publish(event)
    return achievement
