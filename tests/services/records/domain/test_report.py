"""The annual conversion report of an institution (pure)."""

from __future__ import annotations

import uuid

from services.records.domain.dossier import Viewer, build_dossier
from services.records.domain.report import (
    ROW_HEADER,
    ContractTotal,
    annual_report,
    report_rows,
    year_bounds,
)
from shared.events.auction import AuctionAnnounced, AuctionFailed, DealConcluded
from shared.events.listing import ListingCreated, ListingPublished
from shared.events.settlement import (
    DealDefaulted,
    DepositForfeited,
    FeeCharged,
    PayoutMade,
    SettlementCompleted,
)
from tests.services.records.domain.test_links import (
    ARCHIVE,
    DEAL,
    LISTING,
    P1,
    P2,
    PRICE,
    REG_NUMBER,
    REGION,
    SELLER,
    SELLER_NAME,
    TITLE,
    A,
    archive,
    at,
    of,
    snapshot,
)


def amounts(kind: str, **match: str) -> list[int]:
    return [e.payload["amount_fen"] for e in ARCHIVE if e.kind == kind
            and all(e.payload.get(k) == v for k, v in match.items())]


def test_the_years_bounds_are_shanghais():
    start, end = year_bounds(2026)
    assert start == at("2025-12-31 16:00") and end == at("2026-12-31 16:00")


def test_the_report_counts_the_holders_year():
    report = annual_report(SELLER, 2026, ARCHIVE)
    assert (report.holder_id, report.holder_name, report.year) == (SELLER, SELLER_NAME, 2026)
    # published at 00:30 on 1 January in Shanghai: a 2026 achievement, listed once
    assert [(a.listing_id, a.title, a.route) for a in report.achievements] == [
        (str(LISTING), TITLE, "auction")]
    assert dict(report.procedures_by_route) == {"auction": 2}
    assert dict(report.failed_by_route) == {"auction": 1} and report.failed == 1
    assert dict(report.concluded_by_route) == {"auction": 1} and report.concluded == 1
    assert dict(report.concluded_fen_by_route) == {"auction": PRICE}
    assert report.defaulted == 0 and report.compensation_fen == 0


def test_the_amounts_are_the_settlements():
    report = annual_report(SELLER, 2026, ARCHIVE)
    completed = of("settlement.completed")
    assert report.received_fen == completed.payload["received_fen"] == PRICE
    assert [report.seller_fee_fen] == amounts("settlement.fee_charged", side="seller")
    assert [report.institution_fen] == amounts("settlement.payout_made", recipient="seller")
    assert [report.inventors_fen] == amounts("settlement.payout_made", recipient="inventor_team")
    assert report.received_fen == (report.seller_fee_fen + report.institution_fen
                                   + report.inventors_fen)
    [line] = report.deals
    assert (line.procedure_id, line.deal_id, line.achievement, line.route, line.price_fen) == (
        str(P2), str(DEAL), TITLE, "auction", PRICE)
    assert (line.status, line.received_fen, line.inventor_share, line.registration_number) == (
        "completed", PRICE, "0.70", REG_NUMBER)
    assert line.settled_at == completed.time


def test_contracts_and_subsidies():
    report = annual_report(SELLER, 2026, ARCHIVE)
    assert dict(report.contracts_by_category) == {
        "transfer": ContractTotal(count=1, tech_amount_fen=PRICE, total_amount_fen=200_000_000)}
    assert report.contracts_registered == 1 and report.contracts_cancelled == 0
    assert [(s.side, s.recipient_id, s.amount_fen) for s in report.subsidies] == [
        ("buyer", A, 55_800_000), ("seller", SELLER, 0)]
    assert report.subsidy_granted_fen == 0  # one side per project and year: the buyer's


def test_other_years_and_other_holders():
    before = annual_report(SELLER, 2025, ARCHIVE)
    assert before.achievements == () and before.deals == () and before.received_fen == 0
    nankai = annual_report("nankai", 2026, ARCHIVE)
    assert nankai.holder_name == "南开大学" and dict(nankai.procedures_by_route) == {"auction": 1}
    assert nankai.deals == () and nankai.achievements == ()  # created, never published
    buyer = annual_report(A, 2026, ARCHIVE)  # a buyer holds nothing here
    assert buyer.deals == () and dict(buyer.procedures_by_route) == {}


def test_the_table_for_csv_and_pdf():
    report = annual_report(SELLER, 2026, ARCHIVE)
    rows = report_rows(report)
    assert rows[0] == ROW_HEADER
    assert rows[1] == (str(P2), TITLE, "拍卖", "2026-02-11 10:03:00", "1,860,000.00",
                       "1,860,000.00", "42,200.00", "545,340.00", "1,272,460.00", "已结算",
                       REG_NUMBER)
    assert rows[-1][0] == "合计" and rows[-1][5] == "1,860,000.00"
    assert all(isinstance(cell, str) for row in rows for cell in row)
    assert len({len(row) for row in rows}) == 1
    assert report_rows(report, header=False)[0] == rows[1]


# -- a deal settled across the new year, and a defaulted one ---------------------------------
HOLDER = "tust"
L_LATE, P_LATE = uuid.uuid4(), uuid.uuid4()
D_LATE = uuid.uuid4()
L_BAD, P_BAD, D_BAD = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def other_holder():
    listing = snapshot("食品冷链保鲜技术") | {"holders": [{"name": "天津科技大学",
                                                         "kind": "university"}]}
    out = []
    for lid in (L_LATE, L_BAD):
        out += [ListingCreated(listing_id=lid, region=REGION, occurred_at=at("2026-03-01 01:00"),
                               actor=HOLDER, seller_id=HOLDER, listing=listing),
                ListingPublished(listing_id=lid, region=REGION,
                                 occurred_at=at("2026-03-02 01:00"), seller_id=HOLDER,
                                 expires_at=at("2027-03-02 01:00"), listing=listing)]
    d = {"deal_id": D_LATE, "region": REGION}
    out += [
        AuctionAnnounced(procedure_id=P_LATE, listing_id=L_LATE, route="listing",
                         region=REGION, announced_at=at("2026-11-01 01:00"),
                         starts_at=at("2026-11-20 01:00")),
        DealConcluded(deal_id=D_LATE, procedure_id=P_LATE, listing_id=L_LATE, route="listing",
                      region=REGION, seller_id=HOLDER, buyer_id="binhai-foods",
                      price_fen=80_000_000, concluded_at=at("2026-12-30 02:00")),
        FeeCharged(**d, side="seller", party_id=HOLDER, amount_fen=2_000_000,
                   schedule="tianjin", charged_at=at("2026-12-30 02:01")),
        PayoutMade(**d, account=f"seller:{HOLDER}", recipient="seller", amount_fen=23_400_000,
                   inventor_share="0.70", paid_at=at("2027-01-05 02:00")),
        PayoutMade(**d, account=f"inventor_team:{HOLDER}", recipient="inventor_team",
                   amount_fen=54_600_000, inventor_share="0.70", paid_at=at("2027-01-05 02:00")),
        SettlementCompleted(**d, listing_id=L_LATE, received_fen=80_000_000,
                            completed_at=at("2027-01-05 02:00")),
        AuctionAnnounced(procedure_id=P_BAD, listing_id=L_BAD, route="auction", region=REGION,
                         announced_at=at("2026-04-01 01:00"), starts_at=at("2026-04-10 01:00")),
        DealConcluded(deal_id=D_BAD, procedure_id=P_BAD, listing_id=L_BAD, route="auction",
                      region=REGION, seller_id=HOLDER, buyer_id="bad-buyer",
                      price_fen=30_000_000, concluded_at=at("2026-04-11 01:00")),
        DepositForfeited(deposit_id=uuid.uuid4(), procedure_id=P_BAD, bidder_id="bad-buyer",
                         amount_fen=3_000_000, region=REGION, deal_id=D_BAD,
                         beneficiary=f"seller:{HOLDER}", forfeited_at=at("2026-05-01 01:00")),
        DealDefaulted(deal_id=D_BAD, procedure_id=P_BAD, listing_id=L_BAD, region=REGION,
                      buyer_id="bad-buyer", forfeited_fen=3_000_000,
                      due_at=at("2026-04-25 01:00"), defaulted_at=at("2026-05-01 01:00")),
        AuctionFailed(procedure_id=P_BAD, listing_id=L_BAD, region=REGION,
                      reason="winner-defaulted", failed_at=at("2026-05-01 01:01")),
    ]
    return archive(out, start=1000)


def test_received_counts_in_the_year_the_settlement_completed():
    rows = other_holder()
    this, next_ = annual_report(HOLDER, 2026, rows), annual_report(HOLDER, 2027, rows)
    late = next(d for d in this.deals if d.deal_id == str(D_LATE))
    assert (late.status, late.received_fen, late.inventors_fen) == ("completed", 0, 0)
    assert dict(this.concluded_by_route) == {"auction": 1, "listing": 1}
    assert this.received_fen == 0
    [again] = next_.deals
    assert (again.received_fen, again.seller_fee_fen, again.institution_fen,
            again.inventors_fen) == (80_000_000, 2_000_000, 23_400_000, 54_600_000)
    assert next_.received_fen == 80_000_000 and dict(next_.concluded_by_route) == {}


def test_a_defaulted_deal_fails_its_procedure_and_its_deposit_is_compensation():
    rows = other_holder()
    report = annual_report(HOLDER, 2026, rows)
    bad = next(d for d in report.deals if d.deal_id == str(D_BAD))
    assert (bad.status, bad.received_fen) == ("defaulted", 0)
    assert report.defaulted == 1 and dict(report.failed_by_route) == {"auction": 1}
    assert report.compensation_fen == 3_000_000
    assert report.holder_name == "天津科技大学" and len(report.achievements) == 2
    d = build_dossier(str(P_BAD), rows, Viewer("operator", "o", "120000"))
    assert (d.outcome, d.failure_reason, d.settlement_state) == (
        "failed", "winner-defaulted", "defaulted")
    assert [s.kind for s in d.steps][-3:] == ["deposit.forfeited", "deal.defaulted",
                                              "auction.failed"]


def test_the_round_one_failure_is_the_holders_too():
    report = annual_report(SELLER, 2026, ARCHIVE)
    failed = of("auction.failed")
    assert failed.subject == str(P1) and report.failed_by_route["auction"] == 1
