"""The public summaries a registration, an amendment and a cancellation tell partners, pure."""

from __future__ import annotations

from services.registry.domain.summaries import revision, summary_of
from shared.events.public.contracts import (
    PUBLIC_CONTRACT_FIELDS,
    PublicContractAmended,
    PublicContractCancelled,
    PublicContractRegistered,
)
from tests.services.registry.domain.test_contract import (
    NOW,
    REGISTRAR,
    REVIEW,
    SELLER,
    contract_terms,
    filed,
    registered,
)


def test_a_registration_tells_revision_one_keyed_by_origin_and_number():
    before = filed(buyer="130102")
    after = registered(buyer="130102")
    told = summary_of(before, after, origin="230000")
    assert isinstance(told, PublicContractRegistered)
    assert told.revision == 1 == revision(after) and revision(before) == 0
    assert told.contract_key == f"230000-{after.registration.number}"
    assert (told.seller_region, told.buyer_region) == (after.facts.seller_region, "130102")
    assert told.flow == {"230000": "outflow", "130000": "inflow"}
    assert (told.total_amount_fen, told.tech_amount_fen) == (200_000_000, 186_000_000)
    assert told.registered_on.isoformat() == "2026-04-10"
    assert set(told.model_dump()) <= PUBLIC_CONTRACT_FIELDS  # no party's name or id
    assert not {"parties", "seller_id", "project_name"} & set(told.model_dump())


def test_only_a_transition_that_registers_a_filing_tells_anything():
    contract = registered()
    pending, _ = contract.amend(contract_terms(tech=190_000_000), by=SELLER, now=NOW,
                                review=REVIEW)
    assert summary_of(contract, pending) is None   # filed, not registered yet
    assert summary_of(None, filed()) is None


def test_an_amendment_and_a_cancellation_raise_the_revision():
    contract = registered(buyer="130102")
    pending, _ = contract.amend(contract_terms(tech=190_000_000, buyer="130102"), by=SELLER,
                                now=NOW, review=REVIEW)
    amended, _ = pending.register(by=REGISTRAR, registrar_region="230100", now=NOW)
    told = summary_of(pending, amended)
    assert isinstance(told, PublicContractAmended)
    assert (told.revision, told.tech_amount_fen) == (2, 190_000_000)
    assert told.origin == "230000"  # the seller's province without a deployment region
    cancelling, _ = amended.cancel("双方协议解除", by=SELLER, now=NOW, review=REVIEW)
    cancelled, _ = cancelling.register(by=REGISTRAR, registrar_region="230100", now=NOW)
    last = summary_of(cancelling, cancelled)
    assert isinstance(last, PublicContractCancelled) and last.revision == 3
    assert last.contract_key == told.contract_key
