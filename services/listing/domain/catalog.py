"""What the listing service tells partners (the public catalog, ``techex.public.catalog``):
the public events a transaction's listing events make, from the listing as it now stands.

Only a listing that was published is told of; its ``revision`` is its version, which grows
with every change, so a partner keeps the latest.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.listing.domain.achievement import Achievement
from shared.events import Event
from shared.events.listing import (
    ListingExpired,
    ListingInTransaction,
    ListingPublished,
    ListingReturned,
    ListingTraded,
    ListingWithdrawn,
)
from shared.events.public.catalog import (
    CatalogHolder,
    CatalogListingInTransaction,
    CatalogListingPublished,
    CatalogListingTraded,
    CatalogListingWithdrawn,
)

TOLD = (ListingPublished, ListingReturned, ListingInTransaction, ListingWithdrawn,
        ListingExpired, ListingTraded)
"""The listing events partners hear of (as public catalog events)."""


def page_path(listing_id: object) -> str:
    """The achievement's page on the portal."""
    return f"/achievements/{listing_id}"


def last_told(events: Sequence[Event]) -> dict[object, Event]:
    """Per listing, the last of ``events`` partners hear of (it says how the listing stands)."""
    found: dict[object, Event] = {}
    for e in events:
        if isinstance(e, TOLD):
            found[e.listing_id] = e
    return found


def public_event(a: Achievement, e: Event) -> Event | None:
    """The public catalog's event for ``a`` after ``e``; None if never published."""
    if a.published_at is None:
        return None
    base = {"listing_id": a.id, "region": a.region, "occurred_at": e.time(),
            "revision": a.version, "path": page_path(a.id)}
    if isinstance(e, ListingPublished | ListingReturned):
        d = a.details
        return CatalogListingPublished(
            **base, title=d.title, abstract=d.abstract, field=d.field.value,
            industry=d.industry, keywords=list(d.keywords), ip_type=d.ip_type.value, trl=d.trl,
            holders=[CatalogHolder(name=h.name, kind=h.kind) for h in d.holders],
            transfer_mode=d.transfer_mode.value, pricing_route=d.pricing_route.value,
            reference_price_fen=d.reference_price_fen, seller_id=a.seller_id,
            published_at=a.published_at, expires_at=a.expires_at)
    if isinstance(e, ListingInTransaction):
        return CatalogListingInTransaction(**base)
    if isinstance(e, ListingWithdrawn | ListingExpired):
        return CatalogListingWithdrawn(
            **base, reason="expired" if isinstance(e, ListingExpired) else "withdrawn")
    if isinstance(e, ListingTraded):
        return CatalogListingTraded(**base)
    return None
