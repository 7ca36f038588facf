"""The events the listing service follows: the procedures other services run on a listing."""

from __future__ import annotations

from services.listing import handlers
from shared.consumer import Handler
from shared.events import Event
from shared.events.auction import AuctionAnnounced, AuctionFailed, DealConcluded
from shared.events.registry import ContractRegistered

HANDLERS: dict[type[Event], Handler] = {
    AuctionAnnounced: handlers.on_announced,
    AuctionFailed: handlers.on_failed,
    DealConcluded: handlers.on_deal,
    ContractRegistered: handlers.on_registered,
}
