"""The events the registry service reacts to."""

from __future__ import annotations

import json
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.registry import repository
from shared.envelope import Envelope
from shared.events.listing import ListingCreated
from shared.events.registry import ContractDrafted
from shared.events.settlement import SettlementCompleted
from shared.outbox import OutboxWriter

OUTBOX = OutboxWriter("registry")
SHANGHAI = ZoneInfo("Asia/Shanghai")
_SUBTYPE_BY_IP = {"patent_invention": "patent", "patent_utility": "patent",
                  "patent_design": "patent", "patent_application": "patent_application",
                  "trade_secret": "trade_secret"}


class SellerUnknown(ValueError):
    """A settled deal names no seller and its listing never reached this service."""


async def on_listing_created(
    conn: asyncpg.Connection, event: ListingCreated, envelope: Envelope
) -> None:
    await repository.record_listing(conn, event)


def draft_terms(event: SettlementCompleted, listing: asyncpg.Record | None,
                seller_id: str) -> dict[str, Any]:
    """What the seller's draft is pre-filled with: the deal's figures and the listing's
    subject. The seller completes the rest (the buyer's region, dates, category rules)."""
    holders = json.loads(listing["holders"]) if listing else []
    seller: dict[str, Any] = {"role": "seller", "party_id": seller_id, "country": "CN",
                              "region": event.region,
                              "name": holders[0]["name"] if holders else seller_id,
                              "entity_type": holders[0]["kind"] if holders else "other"}
    buyer: dict[str, Any] = {"role": "buyer", "party_id": event.buyer_id,
                             "name": event.buyer_id or "", "country": "CN"}
    amount = event.price_fen or event.received_fen
    terms: dict[str, Any] = {"category": "transfer", "parties": [seller, buyer],
                             "total_amount_fen": amount, "tech_amount_fen": amount}
    if event.concluded_at is not None:
        terms["signed_on"] = event.concluded_at.astimezone(SHANGHAI).date().isoformat()
    if listing is not None:
        terms |= {"project_name": listing["title"], "tech_field": listing["tech_field"]}
        if listing["ip_type"]:
            terms["ip"] = {"ip_type": listing["ip_type"], "name": listing["title"],
                           "numbers": list(listing["ip_numbers"])}
            if listing["ip_type"] in _SUBTYPE_BY_IP:
                terms["subtype"] = _SUBTYPE_BY_IP[listing["ip_type"]]
    return terms


async def on_settlement_completed(
    conn: asyncpg.Connection, event: SettlementCompleted, envelope: Envelope
) -> None:
    """A pre-filled draft for the seller, once per deal (the deal id is the natural key)."""
    listing = await repository.listing_for_draft(conn, event.listing_id)
    seller_id = event.seller_id or (listing["seller_id"] if listing else None)
    if seller_id is None:
        raise SellerUnknown(f"deal {event.deal_id} names no seller and its listing is unknown")
    contract_id = uuid.uuid4()
    created = await repository.insert_contract(
        conn, contract_id=contract_id, deal_id=event.deal_id, listing_id=event.listing_id,
        seller_id=seller_id, region=event.region, status="draft",
        terms=draft_terms(event, listing, seller_id), at=event.completed_at)
    if created:
        await OUTBOX.add(conn, [ContractDrafted(
            contract_id=contract_id, region=event.region, actor="settlement",
            deal_id=event.deal_id, listing_id=event.listing_id, seller_id=seller_id,
            drafted_at=event.completed_at)], region=event.region)


HANDLERS = {ListingCreated: on_listing_created, SettlementCompleted: on_settlement_completed}
