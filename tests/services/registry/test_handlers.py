"""The registry's handlers applied directly, the way the consumer and the routes apply them: in
a transaction context whose published events reach the outbox with their own region."""

from __future__ import annotations

import uuid

import asyncpg

from services.registry import handlers
from shared.auth import Principal, Role
from shared.events.base import examples_of
from shared.events.listing import ListingCreated
from shared.events.settlement import SettlementCompleted
from shared.regions import Region
from tests.services.registry.builders import terms
from tests.services.registry.conftest import NOW
from tests.support.handlers import deliver


async def _outbox(url: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(url)
    try:
        return [(r["type"], r["region"]) for r in await conn.fetch(
            "SELECT type, region FROM outbox ORDER BY seq")]
    finally:
        await conn.close()


async def test_a_settled_deal_drafts_one_contract_whatever_the_deliveries(registry, clock):
    listing = ListingCreated.model_validate(examples_of(ListingCreated)[0])
    deal = SettlementCompleted(deal_id=uuid.uuid4(), region="230102", received_fen=100,
                               completed_at=NOW, listing_id=listing.listing_id,
                               seller_id="hit-university")
    await deliver(registry.db, "registry", handlers.on_listing_created, listing, clock)
    for _ in range(2):  # a retrying producer delivers twice
        await deliver(registry.db, "registry", handlers.on_settlement_completed, deal, clock)
    assert await _outbox(registry.db) == [("cn.techex.contract.drafted.v1", "230102")]
    drafts = (await registry.get("/drafts", headers=registry.seller)).json()
    assert [d["deal_id"] for d in drafts] == [str(deal.deal_id)]
    assert drafts[0]["terms"]["project_name"] == listing.listing.title


async def test_a_command_publishes_through_its_transaction(registry):
    runtime = registry.runtime
    seller = Principal("hit-university", Role.SELLER, Region.parse("230100"))
    registrar = Principal("harbin-registrar", Role.REGISTRAR, Region.parse("230100"))
    review = handlers.review_period(runtime.settings)
    filed_terms = handlers.filing_terms(seller, terms())
    async with runtime.transaction() as tx:
        filed = await handlers.file_contract(tx, seller, filed_terms, review=review)
        assert [type(e).__name__ for e in tx.events] == ["ContractFiled"]
    async with runtime.transaction() as tx:
        registered, added = await handlers.register(tx, registrar, filed.id)
    assert registered.registration is not None
    assert added is not None and added[1] == filed_terms.tech_amount_fen
    assert await _outbox(registry.db) == [("cn.techex.contract.filed.v1", "230102"),
                                          ("cn.techex.contract.registered.v1", "230102"),
                                          ("cn.techex.public.contracts.registered.v1",
                                           "230102")]


async def test_a_partner_buyers_deal_drafts_a_contract_across_provinces(registry, clock,
                                                                        tmp_path):
    from services.registry import consumer
    from shared.settings import CommonSettings
    from tests.support.partners import tianjin_file

    common = CommonSettings(federation_file=tianjin_file(tmp_path))
    table = consumer.table(common)
    deal = SettlementCompleted(deal_id=uuid.uuid4(), region="230102", received_fen=100,
                               completed_at=NOW, seller_id="hit-university",
                               buyer_id="hebei:jizhong-steel")
    await deliver(registry.db, "registry", table[SettlementCompleted], deal, clock)
    local = deal.model_copy(update={"deal_id": uuid.uuid4(), "buyer_id": "shanxi:x"})
    await deliver(registry.db, "registry", table[SettlementCompleted], local, clock)
    drafts = (await registry.get("/drafts", headers=registry.seller)).json()
    buyers = {d["deal_id"]: d["terms"]["parties"][1] for d in drafts}
    assert buyers[str(deal.deal_id)]["region"] == "130000"  # Hebei's inflow
    assert "region" not in buyers[str(local.deal_id)]  # no partner of this deployment
