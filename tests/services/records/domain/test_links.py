"""Which archived events tell a procedure's story: refs, expand, select (pure).

The story below is built from the catalog's own models (a changed field breaks it): a Tianjin
university's achievement, a first auction that failed for want of a bid, a re-auction that
sold with an extension, the deal's settlement, subsidy and contract, and an unrelated auction
of another listing in which the same buyer bid. The other records tests import it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from services.records.domain.archive import Archived
from services.records.domain.links import belongs, expand, refs, select
from shared.events.auction import (
    AuctionAnnounced,
    AuctionClosed,
    AuctionExtended,
    AuctionFailed,
    AuctionTermsPublished,
    BidAccepted,
    BidderQualified,
    BidderRegistered,
    BidRejected,
    DealConcluded,
)
from shared.events.base import Event
from shared.events.listing import (
    ListingCreated,
    ListingInTransaction,
    ListingPublished,
    ListingReturned,
    ListingReviewStarted,
    ListingSubmitted,
    ListingTraded,
    ListingUpdated,
)
from shared.events.public.catalog import CatalogListingInTransaction, CatalogProcedureResult
from shared.events.records import CertificateCancelled, CertificateIssued
from shared.events.registry import ContractDrafted, ContractFiled, ContractRegistered
from shared.events.settlement import (
    DealDefaulted,
    DepositApplied,
    DepositConfirmed,
    DepositReleased,
    FeeCharged,
    Instalment,
    PaymentReceived,
    PayoutMade,
    SettlementCompleted,
    SettlementOpened,
    SubsidyAssessed,
)

REGION = "120101"  # 天津市和平区
SELLER = "tju"
SELLER_NAME = "天津大学"
A, B, C = "jinnan-materials", "haihe-tech", "bohai-chem"
"""A wins the re-auction, B loses it, C registered for the first auction only."""
TITLE = "高性能石墨烯防腐涂层制备技术"

_NS = uuid.UUID("5a0c2b7e-1f3d-4e5a-8b9c-0d1e2f3a4b5c")
LISTING = uuid.uuid5(_NS, "listing")
P1 = uuid.uuid5(_NS, "round-1")
P2 = uuid.uuid5(_NS, "round-2")
DEAL = uuid.uuid5(_NS, "deal")
CONTRACT = uuid.uuid5(_NS, "contract")
LISTING3, P3 = uuid.uuid5(_NS, "listing-3"), uuid.uuid5(_NS, "unrelated")
DEP_C1, DEP_A, DEP_B = (uuid.uuid5(_NS, f"deposit-{x}") for x in ("c1", "a", "b"))
REG_NUMBER = "2026120100010001"
TX_CERT, REG_CERT = "JYJZ-120000-2026-000001", "DJZ-120000-2026-000001"

PRICE = 186_000_000
BUYER_FEE = SELLER_FEE = 4_220_000
DEPOSIT = 16_000_000
NET = PRICE - SELLER_FEE
INVENTORS = 127_246_000  # 70 % of the net, to the fen
INSTITUTION = NET - INVENTORS


def at(text: str) -> datetime:
    """A UTC instant: ``"2026-02-11 01:58"``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def snapshot(title: str = TITLE, price: int = 200_000_000) -> dict:
    return {"title": title, "abstract": "水性环氧石墨烯防腐涂层，耐盐雾 3000 小时。",
            "field": "new_materials", "ip_type": "patent_invention",
            "ip_numbers": ["ZL202010012345.6"], "trl": 6,
            "holders": [{"name": SELLER_NAME, "kind": "university"}],
            "inventors": ["王强", "刘芳"], "transfer_mode": "transfer",
            "pricing_route": "auction", "reference_price_fen": price}


_SERVICE = {"listing": "listing", "auction": "auction", "deal": "auction",
            "settlement": "settlement", "deposit": "settlement", "subsidy": "settlement",
            "contract": "registry", "public.catalog": "listing", "certificate": "records",
            "records": "records", "demand": "listing", "public.contracts": "registry"}


def archive(events: Iterable[Event], start: int = 1) -> list[Archived]:
    """The events as the archive holds them, numbered from ``start`` in the given order."""
    rows = []
    for seq, event in enumerate(events, start):
        payload = event.model_dump(mode="json")
        service = "settlement" if isinstance(event, DealDefaulted) else _SERVICE[event.aggregate]
        rows.append(Archived(
            seq=seq, event_id=str(uuid.uuid5(_NS, f"event-{seq}")), type=event.ce_type(),
            source=f"/{service}/{payload['region']}", subject=event.subject(),
            region=payload["region"], time=event.time(), topic=f"techex.{event.aggregate}",
            payload=payload))
    return rows


def listing_events() -> list[Event]:
    base = {"listing_id": LISTING, "region": REGION}
    return [
        # published just after midnight of 1 January in Shanghai: 2026's
        ListingCreated(**base, occurred_at=at("2025-12-31 15:00"), actor=SELLER,
                       seller_id=SELLER, listing=snapshot()),
        ListingSubmitted(**base, occurred_at=at("2025-12-31 15:10"), actor=SELLER),
        ListingReviewStarted(**base, occurred_at=at("2025-12-31 15:20"), actor="operator-120101"),
        ListingPublished(**base, occurred_at=at("2025-12-31 16:30"), actor="operator-120101",
                         seller_id=SELLER, expires_at=at("2026-12-31 16:00"),
                         listing=snapshot()),
    ]


def round_one() -> list[Event]:
    """Announced, one bidder registered and qualified, no bid: failed, deposit released."""
    p = {"procedure_id": P1, "region": REGION}
    return [
        AuctionAnnounced(**p, listing_id=LISTING, route="auction",
                         announced_at=at("2026-01-10 02:00"), starts_at=at("2026-01-20 02:00")),
        AuctionTermsPublished(**p, occurred_at=at("2026-01-10 02:00"), actor="operator-120101",
                              listing_id=LISTING, start_price_fen=200_000_000,
                              increment_fen=2_000_000, deposit_fen=20_000_000,
                              has_reserve=False, starts_at=at("2026-01-20 02:00"),
                              ends_at=at("2026-01-21 02:00"), extension_seconds=300),
        ListingInTransaction(listing_id=LISTING, region=REGION,
                             occurred_at=at("2026-01-10 02:01"), actor="listing",
                             cause=AuctionAnnounced.ce_type(), procedure_id=str(P1)),
        BidderRegistered(**p, occurred_at=at("2026-01-12 03:00"), actor=C, bidder_id=C,
                         deposit_fen=20_000_000),
        DepositConfirmed(deposit_id=DEP_C1, procedure_id=P1, bidder_id=C,
                         amount_fen=20_000_000, region=REGION,
                         confirmed_at=at("2026-01-13 03:00")),
        BidderQualified(**p, occurred_at=at("2026-01-13 03:00"), actor="settlement",
                        bidder_id=C),
        AuctionFailed(**p, listing_id=LISTING, reason="no-bid",
                      failed_at=at("2026-01-21 02:00")),
        DepositReleased(deposit_id=DEP_C1, procedure_id=P1, bidder_id=C,
                        amount_fen=20_000_000, region=REGION, reason="procedure-failed",
                        released_at=at("2026-01-21 02:05")),
        ListingReturned(listing_id=LISTING, region=REGION, occurred_at=at("2026-01-21 02:06"),
                        actor="listing", cause=AuctionFailed.ce_type(), procedure_id=str(P1)),
        # the seller cuts the reference price for the re-auction: round 2's story
        ListingUpdated(listing_id=LISTING, region=REGION, occurred_at=at("2026-01-25 02:00"),
                       actor=SELLER, listing=snapshot(price=160_000_000)),
    ]


def round_two() -> list[Event]:
    """The re-auction: two bidders, a rejected bid, an extension, the close and the deal."""
    p = {"procedure_id": P2, "region": REGION}
    ends = at("2026-02-11 02:00")
    return [
        AuctionAnnounced(**p, listing_id=LISTING, route="auction",
                         announced_at=at("2026-02-01 02:00"), starts_at=at("2026-02-10 02:00")),
        AuctionTermsPublished(**p, occurred_at=at("2026-02-01 02:00"), actor="operator-120101",
                              listing_id=LISTING, start_price_fen=160_000_000,
                              increment_fen=2_000_000, deposit_fen=DEPOSIT, has_reserve=True,
                              starts_at=at("2026-02-10 02:00"), ends_at=ends,
                              extension_seconds=300, round=2, previous_procedure_id=P1),
        ListingInTransaction(listing_id=LISTING, region=REGION,
                             occurred_at=at("2026-02-01 02:01"), actor="listing",
                             cause=AuctionAnnounced.ce_type(), procedure_id=str(P2)),
        CatalogListingInTransaction(listing_id=LISTING, region=REGION,
                                    occurred_at=at("2026-02-01 02:01"), revision=3,
                                    path=f"/achievements/{LISTING}"),
        BidderRegistered(**p, occurred_at=at("2026-02-03 01:00"), actor=A, bidder_id=A,
                         deposit_fen=DEPOSIT),
        BidderRegistered(**p, occurred_at=at("2026-02-04 01:00"), actor=B, bidder_id=B,
                         deposit_fen=DEPOSIT),
        DepositConfirmed(deposit_id=DEP_A, procedure_id=P2, bidder_id=A, amount_fen=DEPOSIT,
                         region=REGION, confirmed_at=at("2026-02-05 01:00")),
        BidderQualified(**p, occurred_at=at("2026-02-05 01:00"), actor="settlement",
                        bidder_id=A),
        DepositConfirmed(deposit_id=DEP_B, procedure_id=P2, bidder_id=B, amount_fen=DEPOSIT,
                         region=REGION, confirmed_at=at("2026-02-06 01:00")),
        BidderQualified(**p, occurred_at=at("2026-02-06 01:00"), actor="settlement",
                        bidder_id=B),
        BidAccepted(**p, occurred_at=at("2026-02-10 03:00"), actor=B, sequence=1, bidder_id=B,
                    amount_fen=160_000_000, automatic=False, ends_at=ends),
        BidAccepted(**p, occurred_at=at("2026-02-10 04:00"), actor=A, sequence=2, bidder_id=A,
                    amount_fen=162_000_000, automatic=False, ends_at=ends),
        BidRejected(**p, occurred_at=at("2026-02-10 05:00"), actor=B, bidder_id=B,
                    amount_fen=161_000_000, reason="below-minimum", minimum_fen=164_000_000),
        BidAccepted(**p, occurred_at=at("2026-02-10 05:01"), actor=B, sequence=3, bidder_id=B,
                    amount_fen=164_000_000, automatic=False, ends_at=ends),
        BidAccepted(**p, occurred_at=at("2026-02-11 01:58"), actor=A, sequence=4, bidder_id=A,
                    amount_fen=PRICE, automatic=False, ends_at=at("2026-02-11 02:03")),
        AuctionExtended(**p, occurred_at=at("2026-02-11 01:58"), actor="auction", sequence=4,
                        previous_ends_at=ends, ends_at=at("2026-02-11 02:03")),
        AuctionClosed(**p, occurred_at=at("2026-02-11 02:03"), actor="auction",
                      listing_id=LISTING, route="auction", deal_id=DEAL, winner_id=A,
                      hammer_price_fen=PRICE, reserve_fen=180_000_000, accepted_bids=4),
        DealConcluded(deal_id=DEAL, procedure_id=P2, listing_id=LISTING, route="auction",
                      region=REGION, seller_id=SELLER, buyer_id=A, price_fen=PRICE,
                      concluded_at=at("2026-02-11 02:03")),
        CatalogProcedureResult(procedure_id=P2, route="auction", listing_id=LISTING,
                               region=REGION, occurred_at=at("2026-02-11 02:04"), revision=2,
                               path=f"/auctions/{P2}", outcome="sold", price_fen=PRICE,
                               winner_number="0415", ended_at=at("2026-02-11 02:03")),
        DepositReleased(deposit_id=DEP_B, procedure_id=P2, bidder_id=B, amount_fen=DEPOSIT,
                        region=REGION, reason="not-the-winner",
                        released_at=at("2026-02-11 03:00")),
    ]


def settlement_and_contract() -> list[Event]:
    d = {"deal_id": DEAL, "region": REGION}
    opened = at("2026-02-11 02:05")
    outstanding = PRICE + BUYER_FEE - DEPOSIT
    done = at("2026-02-20 06:00")
    return [
        SettlementOpened(**d, procedure_id=P2, buyer_id=A, seller_id=SELLER, price_fen=PRICE,
                         buyer_fee_fen=BUYER_FEE, seller_fee_fen=SELLER_FEE,
                         deposit_fen=DEPOSIT, outstanding_fen=outstanding,
                         instalments=[Instalment(n=1, due_at=at("2026-02-26 02:05"),
                                                 amount_fen=outstanding)], opened_at=opened),
        FeeCharged(**d, side="buyer", party_id=A, amount_fen=BUYER_FEE, schedule="tianjin",
                   charged_at=opened),
        FeeCharged(**d, side="seller", party_id=SELLER, amount_fen=SELLER_FEE,
                   schedule="tianjin", charged_at=opened),
        PaymentReceived(**d, payment_id=uuid.uuid5(_NS, "pay-1"), buyer_id=A,
                        amount_fen=100_000_000, paid_fen=100_000_000,
                        outstanding_fen=outstanding - 100_000_000, source="bank",
                        reference="BOC-20260215-0007", received_at=at("2026-02-15 02:00")),
        PaymentReceived(**d, payment_id=uuid.uuid5(_NS, "pay-2"), buyer_id=A,
                        amount_fen=outstanding - 100_000_000, paid_fen=outstanding,
                        outstanding_fen=0, source="bank", reference="BOC-20260220-0003",
                        received_at=at("2026-02-20 06:00")),
        DepositApplied(deposit_id=DEP_A, procedure_id=P2, bidder_id=A, amount_fen=DEPOSIT,
                       region=REGION, deal_id=DEAL, applied_at=done),
        PayoutMade(**d, account=f"seller:{SELLER}", recipient="seller", amount_fen=INSTITUTION,
                   inventor_share="0.70", paid_at=done),
        PayoutMade(**d, account=f"inventor_team:{SELLER}", recipient="inventor_team",
                   amount_fen=INVENTORS, inventor_share="0.70", paid_at=done),
        SettlementCompleted(**d, listing_id=LISTING, received_fen=PRICE, completed_at=done,
                            procedure_id=P2, route="auction", seller_id=SELLER, buyer_id=A,
                            price_fen=PRICE, concluded_at=at("2026-02-11 02:03")),
        CertificateIssued(number=TX_CERT, kind="transaction", procedure_id=P2, region=REGION,
                          pdf_sha256="ab" * 32, issued_at=at("2026-02-20 06:00")),
        SubsidyAssessed(assessment_id=uuid.uuid5(DEAL, "subsidy:buyer"), deal_id=DEAL,
                        policy_id="tianjin-2026", project_id=str(LISTING), year=2026,
                        side="buyer", recipient_id=A, region=REGION, received_fen=PRICE,
                        amount_fen=55_800_000, commissioner_share_fen=5_580_000,
                        reasons=["30 % of received 186000000 fen"], assessed_at=done),
        SubsidyAssessed(assessment_id=uuid.uuid5(DEAL, "subsidy:seller"), deal_id=DEAL,
                        policy_id="tianjin-2026", project_id=str(LISTING), year=2026,
                        side="seller", recipient_id=SELLER, region=REGION, received_fen=PRICE,
                        amount_fen=0, commissioner_share_fen=0,
                        reasons=["one side per project and year: the buyer's is granted"],
                        assessed_at=done),
        ContractDrafted(contract_id=CONTRACT, region=REGION, actor="settlement", deal_id=DEAL,
                        listing_id=LISTING, seller_id=SELLER, drafted_at=done),
        ContractFiled(contract_id=CONTRACT, region=REGION, actor=SELLER,
                      filing_id=uuid.uuid5(_NS, "filing"), kind="original", category="transfer",
                      subtype="patent", total_amount_fen=200_000_000, tech_amount_fen=PRICE,
                      filed_at=at("2026-03-02 02:00"), due_at=at("2026-04-01 02:00")),
        ContractRegistered(contract_id=CONTRACT, deal_id=DEAL, listing_id=LISTING,
                           region=REGION, registration_number=REG_NUMBER,
                           registered_at=at("2026-03-09 02:00"), registrar_region="120100",
                           category="transfer", subtype="patent", tech_field="new_materials",
                           ip_type="patent_invention", total_amount_fen=200_000_000,
                           tech_amount_fen=PRICE),
        CertificateIssued(number=REG_CERT, kind="registration", procedure_id=P2,
                          region=REGION, pdf_sha256="cd" * 32, issued_at=at("2026-03-09 02:00")),
        ListingTraded(listing_id=LISTING, region=REGION, occurred_at=at("2026-03-09 02:01"),
                      actor="listing", cause=ContractRegistered.ce_type(),
                      procedure_id=str(DEAL)),
    ]


def unrelated() -> list[Event]:
    """Another university's auction in which A bid too."""
    p = {"procedure_id": P3, "region": "120102"}
    return [
        ListingCreated(listing_id=LISTING3, region="120102", occurred_at=at("2026-01-05 02:00"),
                       actor="nankai", seller_id="nankai",
                       listing=snapshot("海洋防污涂料") | {"holders": [
                           {"name": "南开大学", "kind": "university"}]}),
        AuctionAnnounced(**p, listing_id=LISTING3, route="auction",
                         announced_at=at("2026-02-02 02:00"), starts_at=at("2026-02-12 02:00")),
        BidderRegistered(**p, occurred_at=at("2026-02-05 02:00"), actor=A, bidder_id=A,
                         deposit_fen=5_000_000),
        BidAccepted(**p, occurred_at=at("2026-02-12 03:00"), actor=A, sequence=1, bidder_id=A,
                    amount_fen=50_000_000, automatic=False, ends_at=at("2026-02-13 02:00")),
    ]


def story() -> list[Archived]:
    """The whole archive, interleaved as it would arrive (the unrelated auction in between)."""
    other = unrelated()
    events = [*listing_events(), other[0], *round_one(), other[1], *round_two()[:6], other[2],
              *round_two()[6:], other[3], *settlement_and_contract()]
    return archive(events)


ARCHIVE = story()


def fetch(ids: Iterable[str], rows: Sequence[Archived] = ARCHIVE) -> list[Archived]:
    """What the store's ``refs && ids`` query returns."""
    wanted = set(ids)
    return [e for e in rows if refs(e.type, e.subject, e.payload) & wanted]


def gather(procedure_id: str, rows: Sequence[Archived] = ARCHIVE) -> tuple[list[Archived], int]:
    """The store's loop: fetch, expand, until no new id; the fetched rows and the rounds."""
    ids = frozenset({procedure_id})
    for rounds in range(1, 6):
        found = fetch(ids, rows)
        wider = expand(procedure_id, found)
        if wider <= ids:
            return found, rounds
        ids = wider
    raise AssertionError("did not converge in five rounds")


def kinds(events: Iterable[Archived]) -> list[str]:
    return [e.kind for e in events]


def of(kind: str, rows: Sequence[Archived] = ARCHIVE, subject: str | None = None) -> Archived:
    return next(e for e in rows if e.kind == kind and (subject is None or e.subject == subject))


# -- refs ------------------------------------------------------------------------------------
def test_refs_name_aggregates_never_parties():
    bid = of("auction.bid_accepted", subject=str(P2))
    assert refs(bid.type, bid.subject, bid.payload) == {str(P2)}
    terms = of("auction.terms_published", subject=str(P2))
    assert refs(terms.type, terms.subject, terms.payload) == {str(P2), str(LISTING), str(P1)}
    done = of("settlement.completed")
    assert refs(done.type, done.subject, done.payload) == {str(DEAL), str(LISTING), str(P2)}
    traded = of("listing.traded")
    assert refs(traded.type, traded.subject, traded.payload) == {str(LISTING), str(DEAL)}
    deposit = of("deposit.confirmed", subject=str(DEP_A))
    assert refs(deposit.type, deposit.subject, deposit.payload) == {str(DEP_A), str(P2)}
    subsidy = of("subsidy.assessed")
    assert {str(DEAL), str(LISTING)} <= refs(subsidy.type, subsidy.subject, subsidy.payload)
    every = set().union(*(refs(e.type, e.subject, e.payload) for e in ARCHIVE))
    assert not {A, B, C, SELLER, "nankai", "settlement", "auction"} & every


# -- expand ----------------------------------------------------------------------------------
def test_the_store_loop_finds_the_procedure_its_listing_deal_deposits_and_contract():
    found, rounds = gather(str(P2))
    assert rounds <= 4
    assert expand(str(P2), found) == {
        *(str(x) for x in (P2, LISTING, DEAL, CONTRACT, DEP_A, DEP_B)), TX_CERT, REG_CERT}


def test_a_re_auction_and_its_predecessor_do_not_widen_each_other():
    assert expand(str(P1), ARCHIVE) == {str(P1), str(LISTING), str(DEP_C1)}
    assert str(P1) not in expand(str(P2), ARCHIVE)
    assert expand(str(P3), ARCHIVE) == {str(P3), str(LISTING3)}


def test_expand_is_monotone_in_the_events():
    full = expand(str(P2), ARCHIVE)
    for cut in range(0, len(ARCHIVE), 7):
        assert expand(str(P2), ARCHIVE[:cut]) <= full


# -- select ----------------------------------------------------------------------------------
ROUND_TWO_STORY = [
    "listing.created", "listing.submitted", "listing.review_started", "listing.published",
    "listing.updated",
    "auction.announced", "auction.terms_published", "listing.in_transaction",
    "auction.bidder_registered", "auction.bidder_registered", "deposit.confirmed",
    "auction.bidder_qualified", "deposit.confirmed", "auction.bidder_qualified",
    "auction.bid_accepted", "auction.bid_accepted", "auction.bid_rejected",
    "auction.bid_accepted", "auction.bid_accepted", "auction.extended", "auction.closed",
    "deal.concluded", "public.catalog.procedure_result", "deposit.released",
    "settlement.opened", "settlement.fee_charged", "settlement.fee_charged",
    "settlement.payment_received", "settlement.payment_received", "deposit.applied",
    "settlement.payout_made", "settlement.payout_made", "settlement.completed",
    "certificate.issued", "subsidy.assessed", "subsidy.assessed", "contract.drafted",
    "contract.filed", "contract.registered", "certificate.issued", "listing.traded",
]


def test_select_keeps_exactly_the_procedures_story_in_archive_order():
    found, _ = gather(str(P2))
    chosen = select(str(P2), found)
    assert kinds(chosen) == ROUND_TWO_STORY
    assert [e.seq for e in chosen] == sorted(e.seq for e in chosen)
    assert all(e.subject not in (str(P1), str(P3), str(LISTING3)) for e in chosen)
    assert select(str(P2), ARCHIVE) == chosen  # the whole archive gives the same story
    # the public listing mirror repeats the listing's own event: not a step of its own
    assert "public.catalog.listing_in_transaction" not in kinds(chosen)


def test_the_first_round_keeps_its_own_events_and_the_listing_up_to_its_end():
    found, _ = gather(str(P1))
    chosen = select(str(P1), found)
    assert kinds(chosen) == [
        "listing.created", "listing.submitted", "listing.review_started", "listing.published",
        "auction.announced", "auction.terms_published", "listing.in_transaction",
        "auction.bidder_registered", "deposit.confirmed", "auction.bidder_qualified",
        "auction.failed", "deposit.released", "listing.returned"]
    # round 2's terms name round 1 as previous_procedure_id and are fetched, but not kept
    assert any(e.subject == str(P2) for e in found)
    assert not any(e.subject == str(P2) for e in chosen)


def test_the_unrelated_auction_of_the_same_buyer_stays_out():
    chosen = select(str(P3), ARCHIVE)
    assert kinds(chosen) == ["listing.created", "auction.announced",
                             "auction.bidder_registered", "auction.bid_accepted"]
    assert not any(e.subject == str(P3) for e in select(str(P2), ARCHIVE))


def test_a_row_archived_twice_counts_once():
    bid = of("auction.bid_accepted", subject=str(P2))
    again = Archived(seq=len(ARCHIVE) + 1, event_id=bid.event_id, type=bid.type,
                     source=bid.source, subject=bid.subject, region=bid.region,
                     time=bid.time + timedelta(seconds=1), topic=bid.topic, payload=bid.payload)
    chosen = select(str(P2), [again, *ARCHIVE])
    assert [e.seq for e in chosen if e.event_id == bid.event_id] == [bid.seq]


def test_belongs_per_event():
    ids = expand(str(P2), ARCHIVE)
    assert belongs(str(P2), of("settlement.payout_made"), ids)
    assert belongs(str(P2), of("contract.registered"), ids)
    assert not belongs(str(P2), of("auction.failed"), ids)
    assert not belongs(str(P2), of("listing.in_transaction"), ids)  # round 1's
    assert not belongs(str(P2), of("public.catalog.listing_in_transaction"), ids)


def test_a_certificates_cancellation_is_found_by_its_number():
    cancelled = archive([CertificateCancelled(number=REG_CERT, reason="合同已注销",
                                              region=REGION,
                                              cancelled_at=at("2026-06-01 02:00"))],
                        start=len(ARCHIVE) + 1)
    rows = [*ARCHIVE, *cancelled]
    found, rounds = gather(str(P2), rows)
    assert rounds <= 4
    assert kinds(select(str(P2), found))[-1] == "certificate.cancelled"
    assert "certificate.cancelled" not in kinds(select(str(P1), rows))
