"""The contract store against the real database: what a transition changed is written, and a
contract loads back as the domain left it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.registry.domain.contract import Contract
from services.registry.domain.terms import ContractTerms
from services.registry.store import contracts as store
from shared.events.registry import RefusalReason
from shared.events.settlement import SettlementCompleted
from tests.services.registry.builders import terms
from tests.services.registry.conftest import NOW

REVIEW = timedelta(days=30)


async def _saved(conn, before: Contract | None, after: Contract) -> Contract:
    assert await store.save_contract(conn, before, after, NOW)
    loaded = await store.load_contract(conn, after.id, lock=True)
    assert loaded == after
    return loaded


async def test_a_contract_loads_back_as_each_transition_left_it(registry):
    seller, registrar = "hit-university", "harbin-registrar"
    async with registry.runtime.pool.acquire() as conn, conn.transaction():
        filed, _ = Contract.file(ContractTerms.model_validate(terms()), seller_id=seller,
                                 now=NOW, review=REVIEW)
        contract = await _saved(conn, None, filed)
        refused, _ = contract.refuse([RefusalReason(code="price-unclear")], by=registrar,
                                     now=NOW)
        contract = await _saved(conn, contract, refused)
        # (a second apart: filings load in filing time order)
        refiled, _ = contract.submit(ContractTerms.model_validate(terms(tech=1)), by=seller,
                                     now=NOW + timedelta(seconds=1), review=REVIEW)
        contract = await _saved(conn, contract, refiled)
        registered, _ = contract.register(by=registrar, registrar_region="230100", now=NOW,
                                          registrar_code=1, sequence=1)
        contract = await _saved(conn, contract, registered)
        pending, _ = contract.amend(ContractTerms.model_validate(terms(tech=2)), by=seller,
                                    now=NOW + timedelta(seconds=2), review=REVIEW)
        contract = await _saved(conn, contract, pending)
        amended, _ = contract.register(by=registrar, registrar_region="230100", now=NOW)
        contract = await _saved(conn, contract, amended)
        assert contract.facts is not None and contract.facts.tech_amount_fen == 2
        assert [f.kind.value for f in contract.filings] == ["original", "original",
                                                            "amendment"]


async def test_a_second_draft_of_one_deal_is_not_written(registry):
    deal = SettlementCompleted(deal_id=uuid.uuid4(), region="230102", received_fen=100,
                               completed_at=NOW, seller_id="hit-university")
    async with registry.runtime.pool.acquire() as conn, conn.transaction():
        first, _ = Contract.draft(deal, None)
        assert await store.save_contract(conn, None, first, NOW)
        second, _ = Contract.draft(deal, None)
        assert not await store.save_contract(conn, None, second, NOW)
        assert await store.load_contract(conn, second.id) is None
        assert await store.load_contract(conn, first.id) == first
