"""Helpers of the settlement service's tests: events delivered through the real handlers,
tokens, and the ledger read back from the database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg

from shared.auth import Role
from shared.events import Event
from shared.events.auction import AuctionFailed, BidderRegistered, DealConcluded
from tests.support import handlers
from tests.support.services import bearer

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
REGION = "230102"  # 哈尔滨市道里区


def operator(common, region: str = "230100") -> dict:
    return bearer(common, Role.OPERATOR, region)


async def deliver(client, event: Event) -> None:
    """Apply ``event`` through the service's own handler, in one transaction (as the consumer
    does after its inbox claim; a redelivery with a new envelope id reaches it again)."""
    runtime = client.runtime
    await handlers.deliver(client.db, "settlement", runtime.handlers[type(event)], event,
                           runtime.clock)


def registered(procedure_id: uuid.UUID, bidder_id: str, deposit_fen: int,
               region: str = REGION) -> BidderRegistered:
    return BidderRegistered(procedure_id=procedure_id, region=region, occurred_at=NOW,
                            actor=bidder_id, bidder_id=bidder_id, deposit_fen=deposit_fen)


def concluded(procedure_id: uuid.UUID, buyer_id: str, price_fen: int, *,
              listing_id: uuid.UUID | None = None, route: str = "auction",
              seller_id: str = "hit-university", region: str = REGION,
              at: datetime = NOW) -> DealConcluded:
    return DealConcluded(
        deal_id=uuid.uuid5(procedure_id, "deal"), procedure_id=procedure_id,
        listing_id=listing_id or uuid.uuid4(), route=route, region=region,
        seller_id=seller_id, buyer_id=buyer_id, price_fen=price_fen, concluded_at=at)


def failed(procedure_id: uuid.UUID, listing_id: uuid.UUID | None = None) -> AuctionFailed:
    return AuctionFailed(procedure_id=procedure_id, listing_id=listing_id or uuid.uuid4(),
                         region=REGION, reason="no-bid", failed_at=NOW)


async def with_deposits(client, common, procedure_id: uuid.UUID,
                        bidders: dict[str, int]) -> None:
    """Register the bidders and confirm their deposits through the API."""
    for bidder, fen in bidders.items():
        await deliver(client, registered(procedure_id, bidder, fen))
        r = await client.post("/deposits", json={"procedure_id": str(procedure_id),
                                                 "bidder_id": bidder, "amount_fen": fen},
                              headers=operator(common))
        assert r.status_code == 201, r.text


async def ledger_lines(db: str) -> list[tuple]:
    """Every line of the ledger (the state a refused command must leave unchanged)."""
    conn = await asyncpg.connect(db)
    try:
        return [tuple(r) for r in await conn.fetch(
            "SELECT entry_id, account, debit_fen, credit_fen FROM lines ORDER BY id")]
    finally:
        await conn.close()


async def outbox_types(db: str) -> list[str]:
    conn = await asyncpg.connect(db)
    try:
        return [r["type"] for r in await conn.fetch("SELECT type FROM outbox ORDER BY seq")]
    finally:
        await conn.close()


async def outbox_events(db: str, ce_type: str) -> list[dict]:
    conn = await asyncpg.connect(db)
    try:
        return [json.loads(r["payload"]) for r in await conn.fetch(
            "SELECT payload FROM outbox WHERE type = $1 ORDER BY seq", ce_type)]
    finally:
        await conn.close()


async def balances(client, common) -> dict[str, int]:
    r = await client.get("/ledger/trial-balance", headers=operator(common))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["difference_fen"] == 0 and body["balanced"] is True
    return {a["account"]: a["balance_fen"] for a in body["accounts"]}
