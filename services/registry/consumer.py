"""The events the registry service reacts to (the reactions are in :mod:`handlers`)."""

from __future__ import annotations

from collections.abc import Mapping

from services.registry import handlers
from shared.consumer import Handler
from shared.events import Event
from shared.events.listing import ListingCreated
from shared.events.public.contracts import (
    PublicContractAmended,
    PublicContractCancelled,
    PublicContractRegistered,
)
from shared.events.settlement import SettlementCompleted
from shared.settings import CommonSettings

HANDLERS = {ListingCreated: handlers.on_listing_created,
            SettlementCompleted: handlers.on_settlement_completed,
            # partners' public summaries, from their mirrored topics only
            PublicContractRegistered: handlers.on_contract_summary,
            PublicContractAmended: handlers.on_contract_summary,
            PublicContractCancelled: handlers.on_contract_summary}


def table(common: CommonSettings) -> Mapping[type[Event], Handler]:
    """:data:`HANDLERS` with a deal's draft knowing the partners' provinces (their buyers')."""
    regions = handlers.partner_regions(common)
    return {**HANDLERS, SettlementCompleted: lambda tx, event: handlers.on_settlement_completed(
        tx, event, regions)}
