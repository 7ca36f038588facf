"""The events the registry service reacts to (the reactions are in :mod:`handlers`)."""

from __future__ import annotations

from services.registry import handlers
from shared.events.listing import ListingCreated
from shared.events.settlement import SettlementCompleted

HANDLERS = {ListingCreated: handlers.on_listing_created,
            SettlementCompleted: handlers.on_settlement_completed}
