"""The contract aggregate, example by example: drafting, filing, review, amendment, cancellation.

Pure: no database. The registrar's code and sequence number are given as the store would draw
them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.registry.domain.contract import (
    ORAL_REFUSAL,
    Contract,
    FilingKind,
    FilingStatus,
    Listed,
    Status,
    registration_year,
    statistics_change,
    turnover_added,
)
from services.registry.domain.errors import (
    AlreadyRegistered,
    ContractState,
    FilingPending,
    NoPendingFiling,
    NotTheSeller,
    NumbersExhausted,
    SellerUnknown,
)
from services.registry.domain.statistics import deltas
from services.registry.domain.terms import ContractTerms
from shared.events.registry import (
    ContractAmended,
    ContractCancelled,
    ContractDrafted,
    ContractFiled,
    ContractRefused,
    ContractRegistered,
    RefusalReason,
)
from shared.events.settlement import SettlementCompleted
from shared.problems import ValidationFailed
from tests.services.registry.builders import party, terms

NOW = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
REVIEW = timedelta(days=30)
SELLER = "hit-university"
REGISTRAR = "harbin-registrar"
DEAL = uuid.UUID("9c2d1e0f-3a4b-4c5d-8e6f-7a8b9c0d1e2f")
LISTING = uuid.UUID("3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06")
PRICE_UNCLEAR = RefusalReason(code="price-unclear", detail="技术交易额未列明")


def contract_terms(**changes: Any) -> ContractTerms:
    return ContractTerms.model_validate(terms(**changes))


def filed(**changes: Any) -> Contract:
    contract, _ = Contract.file(contract_terms(**changes), seller_id=SELLER, now=NOW,
                                review=REVIEW)
    return contract


def registered(**changes: Any) -> Contract:
    contract, _ = filed(**changes).register(by=REGISTRAR, registrar_region="230100", now=NOW,
                                            registrar_code=1, sequence=1)
    return contract


def settled(**changes: Any) -> SettlementCompleted:
    fields: dict[str, Any] = {
        "deal_id": DEAL, "listing_id": LISTING, "region": "230102", "received_fen": 186_000_000,
        "completed_at": NOW, "seller_id": SELLER, "buyer_id": "longjiang-coatings",
        "price_fen": 186_000_000, "concluded_at": datetime(2026, 3, 30, 17, 0, tzinfo=UTC)}
    return SettlementCompleted(**(fields | changes))


def listed(**changes: Any) -> Listed:
    fields: dict[str, Any] = {
        "title": "石墨烯改性防腐涂料制备技术", "seller_id": "listing-seller",
        "tech_field": "new_materials", "ip_type": "patent_invention",
        "ip_numbers": ("ZL201510012345.3",),
        "holders": ({"name": "哈尔滨工业大学", "kind": "university"},)}
    return Listed(**(fields | changes))


# -- drafting ---------------------------------------------------------------------------------
def test_a_settled_deal_leaves_a_draft_prefilled_from_the_deal_and_the_listing():
    draft, drafted = Contract.draft(settled(), listed())
    assert draft.status is Status.DRAFT and draft.filings == ()
    assert (draft.deal_id, draft.listing_id, draft.seller_id, draft.region) == (
        DEAL, LISTING, SELLER, "230102")
    assert draft.created_at == NOW
    assert draft.terms["signed_on"] == "2026-03-31"  # the deal's date in Shanghai
    assert draft.terms["subtype"] == "patent" and draft.terms["project_name"].startswith("石墨烯")
    assert draft.terms["ip"]["numbers"] == ["ZL201510012345.3"]
    assert draft.terms["parties"][0] == {
        "role": "seller", "party_id": SELLER, "country": "CN", "region": "230102",
        "name": "哈尔滨工业大学", "entity_type": "university"}
    assert isinstance(drafted, ContractDrafted)
    assert (drafted.contract_id, drafted.actor, drafted.drafted_at) == (
        draft.id, "settlement", NOW)


def test_a_partner_buyers_draft_names_the_buyers_province():
    draft, _ = Contract.draft(settled(buyer_id="hebei:jizhong-steel"), listed(),
                              buyer_region="130000")
    assert draft.terms["parties"][1] == {
        "role": "buyer", "party_id": "hebei:jizhong-steel", "name": "hebei:jizhong-steel",
        "country": "CN", "region": "130000"}
    plain, _ = Contract.draft(settled(), listed())
    assert "region" not in plain.terms["parties"][1]


def test_a_draft_is_the_listings_sellers_when_the_deal_names_none():
    draft, drafted = Contract.draft(settled(seller_id=None), listed())
    assert draft.seller_id == drafted.seller_id == "listing-seller"
    with pytest.raises(SellerUnknown):
        Contract.draft(settled(seller_id=None), None)


def test_without_its_listing_a_draft_has_the_deals_figures_only():
    draft, _ = Contract.draft(settled(price_fen=None, received_fen=99_000), None)
    assert draft.terms["total_amount_fen"] == draft.terms["tech_amount_fen"] == 99_000
    assert "project_name" not in draft.terms and "ip" not in draft.terms
    assert draft.terms["parties"][0]["name"] == SELLER


def test_a_completed_draft_is_filed_by_its_seller():
    draft, _ = Contract.draft(settled(), listed())
    completed = contract_terms(seller="230103")
    with pytest.raises(NotTheSeller):
        draft.submit(completed, by="someone-else", now=NOW, review=REVIEW)
    contract, [event] = draft.submit(completed, by=SELLER, now=NOW, review=REVIEW)
    assert contract.status is Status.FILED and contract.region == "230103"
    assert contract.terms == completed.model_dump(mode="json")
    assert isinstance(event, ContractFiled) and event.region == "230103"
    assert draft.status is Status.DRAFT  # the transition returned a new contract


def test_the_terms_with_changes_replace_top_level_members():
    draft, _ = Contract.draft(settled(), listed())
    merged = draft.terms_with({"tech_amount_fen": 1, "category": "licence"})
    assert merged["tech_amount_fen"] == 1 and merged["category"] == "licence"
    assert merged["parties"] == draft.terms["parties"]


# -- filing -----------------------------------------------------------------------------------
def test_a_contract_filed_outside_the_exchange_awaits_a_decision_for_the_review_period():
    contract, [event] = Contract.file(contract_terms(), seller_id=SELLER, now=NOW,
                                      review=REVIEW)
    assert contract.status is Status.FILED and contract.deal_id is None
    assert contract.region == "230102" and contract.created_at == NOW
    [filing] = contract.filings
    assert contract.pending is filing and contract.takes_number
    assert (filing.kind, filing.status, filing.filed_by) == (
        FilingKind.ORIGINAL, FilingStatus.FILED, SELLER)
    assert filing.due_at == NOW + REVIEW and filing.terms == contract.terms
    assert isinstance(event, ContractFiled)
    assert (event.filing_id, event.kind, event.category, event.subtype) == (
        filing.id, "original", "transfer", "patent")
    assert (event.total_amount_fen, event.tech_amount_fen, event.due_at) == (
        200_000_000, 186_000_000, NOW + REVIEW)


def test_a_filing_is_overdue_once_its_deadline_passed_without_a_decision():
    filing = filed().filings[0]
    assert not filing.overdue(NOW + REVIEW)
    assert filing.overdue(NOW + REVIEW + timedelta(seconds=1))
    decided = registered().filings[0]
    assert not decided.overdue(NOW + 2 * REVIEW)


def test_an_oral_contract_is_refused_as_it_is_filed():
    contract, (filed_event, refused) = Contract.file(
        contract_terms(form="oral"), seller_id=SELLER, now=NOW, review=REVIEW)
    assert contract.status is Status.REFUSED and contract.pending is None
    [filing] = contract.filings
    assert (filing.status, filing.decided_by, filing.decided_at, filing.reasons) == (
        FilingStatus.REFUSED, "registry", NOW, (ORAL_REFUSAL,))
    assert isinstance(filed_event, ContractFiled) and isinstance(refused, ContractRefused)
    assert (refused.actor, refused.kind, refused.reasons) == ("registry", "original",
                                                              [ORAL_REFUSAL])
    with pytest.raises(NoPendingFiling):
        contract.register(by=REGISTRAR, registrar_region="230100", now=NOW,
                          registrar_code=1, sequence=1)


def test_only_a_draft_or_a_refused_contract_is_filed_again():
    contract = filed()
    with pytest.raises(ContractState) as e:
        contract.submit(contract_terms(), by=SELLER, now=NOW, review=REVIEW)
    assert e.value.extensions["status_now"] == "filed"
    with pytest.raises(ContractState):
        registered().submit(contract_terms(), by=SELLER, now=NOW, review=REVIEW)


# -- review -----------------------------------------------------------------------------------
def test_registering_the_original_numbers_it_and_counts_it():
    contract = filed()
    done, [event] = contract.register(by=REGISTRAR, registrar_region="230100", now=NOW,
                                      registrar_code=1, sequence=1)
    assert done.status is Status.REGISTERED and not done.takes_number
    assert done.registration is not None
    assert (done.registration.number, done.registration.registrar_code,
            done.registration.registered_at) == ("2026230100010001", 1, NOW)
    [filing] = done.filings
    assert (filing.status, filing.decided_by, filing.decided_at, filing.reasons) == (
        FilingStatus.REGISTERED, REGISTRAR, NOW, None)
    assert done.facts is not None and done.counted == done.facts
    assert (done.facts.year, done.facts.month, done.facts.seller_region,
            done.facts.buyer_region, done.facts.ip_type) == (
        2026, 4, "230102", "230602", "patent_invention")
    assert isinstance(event, ContractRegistered)
    assert (event.registration_number, event.registrar_region, event.deal_id) == (
        "2026230100010001", "230100", None)
    assert not event.crosses_province and not event.cross_border
    assert event.flow == {"230102": "outflow", "230100": "outflow", "230602": "inflow",
                          "230600": "inflow", "230000": "internal"}
    assert [p.region for p in event.parties] == ["230102", "230602"]
    assert statistics_change(contract, done) == deltas(done.facts)
    assert turnover_added(contract, done) == (done.facts, 186_000_000)


def test_a_registration_is_numbered_and_counted_in_its_shanghai_year_and_month():
    new_year = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January in Shanghai
    assert registration_year(new_year) == 2027
    done, [event] = filed().register(by=REGISTRAR, registrar_region="230100", now=new_year,
                                     registrar_code=3, sequence=42)
    assert event.registration_number == "2027230100030042"
    assert done.facts is not None and (done.facts.year, done.facts.month) == (2027, 1)


def test_a_buyer_abroad_crosses_the_province_and_the_border():
    abroad = [party("seller"), party("buyer", None, country="DE", entity_type="enterprise")]
    _, [event] = filed(parties=abroad).register(
        by=REGISTRAR, registrar_region="230100", now=NOW, registrar_code=1, sequence=1)
    assert event.crosses_province and event.cross_border and event.buyer_region is None


def test_a_registered_contract_is_not_registered_twice():
    with pytest.raises(AlreadyRegistered) as e:
        registered().register(by=REGISTRAR, registrar_region="230100", now=NOW,
                              registrar_code=1, sequence=2)
    assert e.value.extensions["registration_number"] == "2026230100010001"


def test_without_a_registrar_code_or_a_sequence_left_there_is_no_number():
    with pytest.raises(NumbersExhausted):
        filed().register(by=REGISTRAR, registrar_region="230100", now=NOW)
    with pytest.raises(NumbersExhausted):
        filed().register(by=REGISTRAR, registrar_region="230100", now=NOW,
                         registrar_code=1, sequence=10_000)


def test_a_refused_contract_is_corrected_and_filed_again():
    contract, [event] = filed().refuse([PRICE_UNCLEAR], by=REGISTRAR, now=NOW)
    assert contract.status is Status.REFUSED and contract.pending is None
    assert contract.filings[0].reasons == (PRICE_UNCLEAR,)
    assert isinstance(event, ContractRefused)
    assert (event.actor, event.kind, event.reasons) == (REGISTRAR, "original", [PRICE_UNCLEAR])
    with pytest.raises(NoPendingFiling) as e:
        contract.refuse([PRICE_UNCLEAR], by=REGISTRAR, now=NOW)
    assert e.value.extensions["status_now"] == "refused"
    assert statistics_change(filed(), contract) == [] and turnover_added(None, contract) is None
    later = NOW + timedelta(days=3)
    again, [filed_again] = contract.submit(contract_terms(tech=150_000_000), by=SELLER,
                                           now=later, review=REVIEW)
    assert again.status is Status.FILED and len(again.filings) == 2
    assert again.pending is again.filings[1] and again.pending.due_at == later + REVIEW
    assert isinstance(filed_again, ContractFiled) and filed_again.tech_amount_fen == 150_000_000


# -- amendment --------------------------------------------------------------------------------
def test_an_amendment_applies_once_registered():
    contract = registered()
    amended_terms = contract_terms(tech=190_000_000, project_name="石墨烯涂料")
    pending, [event] = contract.amend(amended_terms, by=SELLER, now=NOW, review=REVIEW)
    assert pending.terms == contract.terms  # not yet
    assert pending.status is Status.REGISTERED and not pending.takes_number
    assert (event.kind, event.tech_amount_fen) == ("amendment", 190_000_000)
    done, [amended] = pending.register(by=REGISTRAR, registrar_region="230100", now=NOW)
    assert isinstance(amended, ContractAmended)
    assert amended.changed == ["project_name", "tech_amount_fen"]
    assert amended.registration_number == "2026230100010001"
    assert done.terms["tech_amount_fen"] == 190_000_000
    assert contract.facts is not None and done.facts is not None
    assert (done.facts.year, done.facts.month, done.facts.tech_amount_fen) == (
        2026, 4, 190_000_000)
    assert done.registration == contract.registration
    change = statistics_change(pending, done)
    assert {(d.contracts, d.amount_fen) for d in change} == {(0, 4_000_000)}
    assert turnover_added(pending, done) == (done.facts, 4_000_000)


def test_an_amendment_that_lowers_the_amount_adds_no_turnover():
    pending, _ = registered().amend(contract_terms(tech=100_000_000), by=SELLER, now=NOW,
                                    review=REVIEW)
    done, _ = pending.register(by=REGISTRAR, registrar_region="230100", now=NOW)
    assert turnover_added(pending, done) is None
    assert {d.amount_fen for d in statistics_change(pending, done)} == {-86_000_000}


def test_an_amendment_keeps_the_sellers_region_and_waits_for_the_pending_one():
    contract = registered()
    with pytest.raises(ValidationFailed) as e:
        contract.amend(contract_terms(seller="230103"), by=SELLER, now=NOW, review=REVIEW)
    assert [err["field"] for err in e.value.errors] == ["body.parties"]
    pending, _ = contract.amend(contract_terms(tech=1), by=SELLER, now=NOW, review=REVIEW)
    with pytest.raises(FilingPending):
        pending.amend(contract_terms(tech=2), by=SELLER, now=NOW, review=REVIEW)
    with pytest.raises(FilingPending):
        pending.cancel("双方协议解除", by=SELLER, now=NOW, review=REVIEW)
    with pytest.raises(NotTheSeller):
        contract.amend(contract_terms(tech=1), by="someone-else", now=NOW, review=REVIEW)


def test_only_a_registered_contract_is_amended_or_cancelled():
    for contract in (filed(), filed().refuse([PRICE_UNCLEAR], by=REGISTRAR, now=NOW)[0]):
        with pytest.raises(ContractState) as e:
            contract.amend(contract_terms(tech=1), by=SELLER, now=NOW, review=REVIEW)
        assert e.value.extensions["status_now"] == contract.status.value
        with pytest.raises(ContractState):
            contract.cancel("双方协议解除", by=SELLER, now=NOW, review=REVIEW)


def test_a_refused_amendment_leaves_the_registered_contract_as_it_was():
    contract = registered()
    pending, _ = contract.amend(contract_terms(tech=1), by=SELLER, now=NOW, review=REVIEW)
    kept, [event] = pending.refuse([PRICE_UNCLEAR], by=REGISTRAR, now=NOW)
    assert isinstance(event, ContractRefused) and event.kind == "amendment"
    assert kept.status is Status.REGISTERED and kept.terms == contract.terms
    assert kept.facts == contract.facts and kept.pending is None
    assert kept.filings[-1].status is FilingStatus.REFUSED
    assert statistics_change(pending, kept) == [] and turnover_added(pending, kept) is None
    with pytest.raises(AlreadyRegistered):
        kept.register(by=REGISTRAR, registrar_region="230100", now=NOW)


# -- cancellation -----------------------------------------------------------------------------
def test_a_registered_cancellation_takes_the_contract_out_of_the_statistics():
    contract = registered()
    pending, [event] = contract.cancel("双方协议解除", by=SELLER, now=NOW, review=REVIEW)
    assert isinstance(event, ContractFiled)
    assert (event.kind, event.tech_amount_fen) == ("cancellation", 186_000_000)
    assert pending.pending is not None and pending.pending.terms is None
    done, [cancelled] = pending.register(by=REGISTRAR, registrar_region="230100", now=NOW)
    assert isinstance(cancelled, ContractCancelled)
    assert (cancelled.reason, cancelled.registration_number) == ("双方协议解除",
                                                                  "2026230100010001")
    assert done.status is Status.CANCELLED and done.counted is None
    assert done.facts == contract.facts  # kept: the contract counted once
    assert contract.facts is not None
    assert statistics_change(pending, done) == deltas(contract.facts, -1)
    assert turnover_added(pending, done) is None
    with pytest.raises(NoPendingFiling):
        done.register(by=REGISTRAR, registrar_region="230100", now=NOW)
    with pytest.raises(ContractState):
        done.cancel("again", by=SELLER, now=NOW, review=REVIEW)


def test_a_refused_cancellation_changes_nothing():
    contract = registered()
    pending, _ = contract.cancel("双方协议解除", by=SELLER, now=NOW, review=REVIEW)
    kept, [event] = pending.refuse([PRICE_UNCLEAR], by=REGISTRAR, now=NOW)
    assert event.kind == "cancellation" and kept.status is Status.REGISTERED
    assert kept.counted == contract.counted
