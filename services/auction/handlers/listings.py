"""The listings this service knows, from the listing service's events; and the listing a
pricing procedure starts from."""

from __future__ import annotations

import uuid

import asyncpg

from services.auction.domain.errors import ListingNotAvailable, ProcedureRunning, UnknownListing
from services.auction.store import listings as store
from shared.auth import Principal, authorize_region
from shared.context import Tx
from shared.events.listing import (
    ListingCreated,
    ListingExpired,
    ListingPublished,
    ListingWithdrawn,
)
from shared.known_listings import record_listing


async def on_listing_created(tx: Tx, event: ListingCreated) -> None:
    """Record the created listing with its technology field (the public lists filter by it)."""
    await record_listing(tx.conn, event, field=event.listing.field)


async def on_listing_published(tx: Tx, event: ListingPublished) -> None:
    await store.listing_published(tx.conn, event)


async def on_listing_gone(tx: Tx, event: ListingWithdrawn | ListingExpired) -> None:
    await store.listing_status(tx.conn, event.listing_id, event.name)


async def locked_listing(tx: Tx, listing_id: uuid.UUID, operator: Principal | None = None
                         ) -> asyncpg.Record:
    """The listing as this service knows it, locked (two announcements of one listing wait for
    each other); with ``operator``, checked to be in a region the operator may act in."""
    row = await store.lock(tx.conn, listing_id)
    if row is None:
        raise UnknownListing(f"No listing {listing_id} is known to the auction service.")
    if operator is not None:
        authorize_region(operator, row["region"])
    return row


async def check_startable(tx: Tx, listing: asyncpg.Record, route: str) -> None:
    """A ``route`` procedure may start from the (locked) listing: published with that pricing
    route, and no procedure of any route running for it."""
    if listing["status"] != "published" or listing["pricing_route"] != route:
        raise ListingNotAvailable(
            detail=f"The listing is {listing['status']} with pricing route "
                   f"{listing['pricing_route']}, not published for the {route} route.",
            listing_status=listing["status"], pricing_route=listing["pricing_route"])
    running = await store.running_procedure(tx.conn, listing["listing_id"])
    if running is not None:
        raise ProcedureRunning(
            detail=f"The {running['route']} procedure {running['id']} of this listing is "
                   "still running.", procedure_id=str(running["id"]), route=running["route"])
