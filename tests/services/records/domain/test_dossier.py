"""A procedure's dossier as each reader sees it (pure)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.records.domain.dossier import (
    PHASES,
    Actor,
    Dossier,
    Viewer,
    bidder_numbers,
    build_dossier,
    local_time,
    may_read,
    parties_of,
    yuan,
)
from services.records.domain.errors import DossierNotFound, NotYourDossier
from services.records.domain.links import select
from shared.events import all_event_types, examples_of
from shared.events.auction import NoticePublished, ObjectionFiled, ObjectionResolved
from tests.services.records.domain.test_links import (
    ARCHIVE,
    DEAL,
    LISTING,
    P1,
    P2,
    P3,
    PRICE,
    REG_CERT,
    REG_NUMBER,
    REGION,
    ROUND_TWO_STORY,
    SELLER,
    TITLE,
    TX_CERT,
    A,
    B,
    C,
    archive,
    at,
    gather,
)

OPERATOR = Viewer("operator", "operator-120101", "120101")
PROVINCE = Viewer("regulator", "kjj-tianjin", "120000")
WINNER = Viewer("buyer", A, "120104")
LOSER = Viewer("buyer", B, "130102")
THE_SELLER = Viewer("seller", SELLER, REGION)


def dossier(viewer: Viewer, procedure: uuid.UUID = P2) -> Dossier:
    found, _ = gather(str(procedure))
    return build_dossier(str(procedure), found, viewer)


def everything(d: Dossier) -> str:
    """Every text a reader gets, to look for what must not be there."""
    parts: list[Any] = [d.winner]
    for s in d.steps:
        parts += [s.summary_zh, s.title_zh, s.who.id, *s.details.values()]
    return " ".join(str(p) for p in parts)


def step(d: Dossier, kind: str, n: int = 0):
    return [s for s in d.steps if s.kind == kind][n]


# -- formatting ------------------------------------------------------------------------------
def test_money_and_time_formats():
    assert yuan(186_000_000) == "1,860,000.00 元"
    assert yuan(5) == "0.05 元" and yuan(0) == "0.00 元" and yuan(-12_345) == "-123.45 元"
    assert local_time(at("2026-02-11 02:03")) == "2026-02-11 10:03:00"


# -- an overseer -----------------------------------------------------------------------------
def test_an_operator_reads_every_step_in_archive_order_with_who_when_and_event_id():
    found, _ = gather(str(P2))
    story = select(str(P2), found)
    d = build_dossier(str(P2), found, OPERATOR)
    assert [s.kind for s in d.steps] == ROUND_TWO_STORY
    assert [(s.seq, s.event_id, s.at) for s in d.steps] == [
        (e.seq, e.event_id, e.time) for e in story]
    assert {s.phase for s in d.steps} <= set(PHASES)
    assert all(s.title_zh and s.summary_zh for s in d.steps)
    bid = step(d, "auction.bid_accepted", 3)
    assert (bid.phase, bid.title_zh, bid.who.role, bid.who.id, bid.who.region) == (
        "bidding", "出价被接受", "bidder", A, REGION)
    assert bid.summary_zh == ("竞买人 1（jinnan-materials） 出价 1,860,000.00 元"
                              "（第 4 次有效出价），竞价结束时间 2026-02-11 10:03:00")
    assert bid.details["bidder_id"] == A
    rejected = step(d, "auction.bid_rejected")
    assert "低于最低应价" in rejected.summary_zh and "1,640,000.00 元" in rejected.summary_zh
    assert rejected.details["reason"] == "below-minimum"
    extended = step(d, "auction.extended")
    assert extended.summary_zh.endswith("结束时间由 2026-02-11 10:00:00 延至 2026-02-11 10:03:00")
    closed = step(d, "auction.closed")
    assert "成交价 1,860,000.00 元" in closed.summary_zh
    assert "保留价 1,800,000.00 元" in closed.summary_zh
    assert step(d, "contract.registered").who == Actor(role="registrar", region="120100")
    assert step(d, "contract.filed").who.id == SELLER
    assert step(d, "settlement.payment_received").who.role == "buyer"


def test_the_dossiers_summary():
    d = dossier(OPERATOR)
    assert (d.procedure_id, d.listing_id, d.route, d.region) == (
        str(P2), str(LISTING), "auction", REGION)
    assert (d.title, d.outcome, d.round, d.previous_procedure_id) == (
        TITLE, "concluded", 2, str(P1))
    assert d.related_procedure_ids == (str(P1),)
    assert (d.price_fen, d.reserve_fen, d.accepted_bids, d.deal_id) == (
        PRICE, 180_000_000, 4, str(DEAL))
    assert d.winner == f"竞买人 1（{A}）"
    assert (d.settlement_state, d.received_fen, d.contract_state, d.registration_number) == (
        "completed", PRICE, "registered", REG_NUMBER)
    assert d.sees_identities and d.seller_id == SELLER
    assert d.announced_at == at("2026-02-01 02:00") and d.ended_at == at("2026-02-11 02:03")
    assert d.certificates == (TX_CERT, REG_CERT) and d.cancelled_certificates == ()


def test_the_failed_first_round():
    d = dossier(OPERATOR, P1)
    assert (d.outcome, d.failure_reason, d.round, d.previous_procedure_id) == (
        "failed", "no-bid", 1, None)
    assert d.related_procedure_ids == (str(P2),)
    assert "流拍" in step(d, "auction.failed").summary_zh
    assert C in everything(d) and A not in everything(d)


def test_a_province_regulator_covers_the_district():
    assert dossier(PROVINCE).sees_identities
    with pytest.raises(NotYourDossier):
        dossier(Viewer("operator", "operator-130000", "130000"))
    with pytest.raises(NotYourDossier):
        dossier(Viewer("operator", "operator-120102", "120102"))  # a neighbouring district
    assert dossier(Viewer("admin", "root", "000000")).sees_identities


# -- parties ---------------------------------------------------------------------------------
def test_bidders_are_numbered_by_registration_in_this_procedure():
    found, _ = gather(str(P2))
    assert bidder_numbers(str(P2), select(str(P2), found)) == {A: 1, B: 2}
    assert parties_of(str(P2), found) == {A, B, SELLER}
    assert parties_of(str(P1), ARCHIVE) == {C, SELLER}


def test_a_losing_bidder_sees_itself_and_the_others_as_numbers():
    d = dossier(LOSER)
    text = everything(d)
    assert A not in text and "jinnan" not in text
    assert f"竞买人 2（{B}）" in text and "竞买人 1 出价 1,860,000.00 元" in text
    assert d.winner == "竞买人 1" and not d.sees_identities
    assert step(d, "auction.bid_accepted", 1).who.id == "竞买人 1"
    assert step(d, "auction.bid_accepted", 0).who.id == B
    assert step(d, "auction.closed").details["winner_id"] == "竞买人 1"
    assert step(d, "deal.concluded").details["buyer_id"] == "竞买人 1"
    assert step(d, "auction.closed").details["reserve_fen"] == 180_000_000  # disclosed there
    kinds = [s.kind for s in d.steps]
    # its own registration, deposit and release; not the winner's, nor the deal's ledger
    assert kinds.count("auction.bidder_registered") == 1
    assert kinds.count("deposit.confirmed") == 1 and kinds.count("deposit.released") == 1
    assert not {"settlement.opened", "settlement.payment_received", "settlement.payout_made",
                "deposit.applied", "subsidy.assessed", "contract.filed",
                "listing.created", "listing.submitted", "listing.updated"} & set(kinds)
    assert {"listing.published", "auction.terms_published", "auction.extended",
            "public.catalog.procedure_result", "listing.traded"} <= set(kinds)
    assert d.settlement_state is None and d.received_fen is None and d.certificates == ()


def test_the_winner_sees_its_side_of_the_settlement():
    d = dossier(WINNER)
    kinds = [s.kind for s in d.steps]
    assert B not in everything(d)
    assert d.winner == f"竞买人 1（{A}）"
    assert kinds.count("settlement.payment_received") == 2
    assert [s.details["side"] for s in d.steps if s.kind == "settlement.fee_charged"] == ["buyer"]
    assert [s.details["side"] for s in d.steps if s.kind == "subsidy.assessed"] == ["buyer"]
    assert "settlement.payout_made" not in kinds and "contract.filed" not in kinds
    assert "contract.registered" in kinds
    assert d.settlement_state == "completed" and d.registration_number == REG_NUMBER


def test_the_seller_learns_the_bidders_after_the_close_and_reads_its_proceeds():
    d = dossier(THE_SELLER)
    kinds = [s.kind for s in d.steps]
    assert d.sees_identities and d.winner == f"竞买人 1（{A}）"
    assert B in everything(d)
    assert kinds.count("settlement.payout_made") == 2 and "contract.filed" in kinds
    assert [s.details["side"] for s in d.steps if s.kind == "settlement.fee_charged"] == [
        "seller"]
    assert "deposit.confirmed" not in kinds  # the bidders' deposits stay the exchange's
    assert "listing.created" in kinds


def test_the_seller_reads_an_open_procedure_without_identities():
    found, _ = gather(str(P2))
    cut = [e for e in found if e.time < at("2026-02-11 00:00")]
    d = build_dossier(str(P2), cut, THE_SELLER)
    assert d.outcome == "open" and not d.sees_identities
    assert A not in everything(d) and B not in everything(d)
    assert "auction.bidder_registered" not in [s.kind for s in d.steps]


def test_outsiders_and_unknown_procedures():
    with pytest.raises(NotYourDossier):
        dossier(Viewer("buyer", C))  # bid in round 1 only
    with pytest.raises(NotYourDossier):
        dossier(Viewer("seller", "nankai", "120102"))
    with pytest.raises(DossierNotFound):
        build_dossier(str(uuid.uuid4()), ARCHIVE, OPERATOR)
    assert not may_read(Viewer("buyer", A), REGION, frozenset({B, SELLER}))
    assert may_read(Viewer("buyer", A), REGION, frozenset({A}))
    assert may_read(Viewer("registrar", "reg-120100", "120100"), REGION, frozenset())
    assert not may_read(Viewer("regulator", "x", "bad"), REGION, frozenset())
    assert may_read(Viewer("operator", "o", "120000"), "120101", ()) and not may_read(
        Viewer("operator", "o", "120101"), "120000", ())
    with pytest.raises(ValueError):
        Viewer("guest")


def test_the_unrelated_procedure_is_its_own_dossier():
    d = build_dossier(str(P3), ARCHIVE, Viewer("operator", "o", "120000"))
    assert [s.kind for s in d.steps] == ["listing.created", "auction.announced",
                                         "auction.bidder_registered", "auction.bid_accepted"]
    assert d.outcome == "open" and d.title == "海洋防污涂料"


# -- a negotiated price with an objection ----------------------------------------------------
P4, LISTING4 = uuid.uuid4(), uuid.uuid4()
OBJECTION = uuid.uuid4()


def negotiated():
    p = {"procedure_id": P4, "region": REGION}
    return archive([
        NoticePublished(**p, occurred_at=at("2026-05-01 02:00"), actor="operator-120101",
                        listing_id=LISTING4, project_name="海水淡化膜组件", abstract="反渗透膜。",
                        transfer_mode="transfer", price_fen=50_000_000, seller_id=SELLER,
                        buyer_id=A, buyer_name="津南新材料有限公司", buyer_relation="inventor",
                        ends_at=at("2026-05-16 16:00")),
        ObjectionFiled(**p, occurred_at=at("2026-05-03 02:00"), actor="citizen-42",
                       objection_id=OBJECTION, grounds="价格明显低于评估价值"),
        ObjectionResolved(**p, occurred_at=at("2026-05-08 02:00"), actor="operator-120101",
                          objection_id=OBJECTION, outcome="dismissed",
                          reason="评估报告显示价格在合理区间"),
    ])


def test_an_objectors_account_is_the_exchanges_only():
    rows = negotiated()
    seen = build_dossier(str(P4), rows, THE_SELLER)
    filed = step(seen, "auction.objection_filed")
    assert filed.who.role == "objector" and filed.who.id is None
    assert "actor" not in filed.details and "citizen-42" not in everything(seen)
    assert filed.summary_zh == "异议理由：价格明显低于评估价值"
    assert step(seen, "auction.objection_resolved").summary_zh == (
        "异议不成立，予以驳回：评估报告显示价格在合理区间")
    assert seen.route == "negotiated" and seen.title == "海水淡化膜组件"
    assert seen.sees_identities  # the seller agreed the deal with its buyer
    assert "受让方为成果完成人" in step(seen, "auction.notice_published").summary_zh
    overseen = build_dossier(str(P4), rows, OPERATOR)
    assert step(overseen, "auction.objection_filed").who.id == "citizen-42"
    assert [s.phase for s in overseen.steps] == ["announcement", "objection", "objection"]


# -- the whole catalog -----------------------------------------------------------------------
def test_every_kind_of_the_catalog_that_a_procedure_owns_has_a_phase_title_and_summary():
    """The catalog's examples share their ids: together they are one (odd) procedure's story.
    A kind added to the catalog without a title here fails this test."""
    events = [cls.model_validate(example) for cls in all_event_types()
              for example in examples_of(cls)]
    events.sort(key=lambda e: e.aggregate != "listing")  # the listing's history first
    rows = archive(events)
    procedure = "6a1f3c9e-1b7d-4d2e-8f00-2c3b4d5e6f70"
    kept = {e.kind for e in select(procedure, rows)}
    left = {e.kind for e in rows} - kept
    assert all(k.startswith(("demand.", "public.catalog.listing_", "public.contracts.",
                             "records.")) or k == "listing.interest_matched" for k in left), left
    d = build_dossier(procedure, rows, Viewer("admin", "root"))
    assert {s.kind for s in d.steps} == kept
    assert all(s.phase != "other" and s.summary_zh != s.kind for s in d.steps)
    for viewer in (Viewer("buyer", "songhua-tech"), Viewer("seller", "hit-university")):
        seen = build_dossier(procedure, rows, viewer)
        assert "longjiang-coatings" not in everything(seen) or viewer.role == "seller"
