"""The achievement lifecycle, pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.listing.domain.achievement import Achievement, Details, PricingRoute, Status
from services.listing.domain.errors import (
    IllegalTransition,
    IncompleteListing,
    NotEditable,
    SecurityReviewRequired,
)
from services.listing.schemas import AchievementIn
from tests.support.listing import achievement as body

T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
YEAR = timedelta(days=365)


def details(**overrides) -> Details:
    return AchievementIn(**body(**overrides)).details()


def draft(**overrides) -> Achievement:
    a, created = Achievement.draft(seller_id="hit", region="230102", details=details(**overrides),
                                   now=T0)
    assert created.listing.title == a.details.title
    return a


def published(**overrides) -> Achievement:
    a, _ = draft(**overrides).submit(now=T0, actor="hit")
    a, _ = a.approve(now=T0, actor="op", validity=YEAR)
    return a


def test_the_happy_path_emits_one_event_per_step():
    a, submitted = draft().submit(now=T0, actor="hit")
    a, started = a.start_review(now=T0, actor="op")
    assert a.status is Status.UNDER_REVIEW and started.actor == "op"
    a, event = a.approve(now=T0, actor="op", validity=YEAR)
    assert a.status is Status.PUBLISHED and a.expires_at == T0 + YEAR
    assert event.ce_type() == "cn.techex.listing.published.v1"
    assert event.listing.pricing_route == "auction" and event.expires_at == T0 + YEAR
    assert submitted.ce_type() == "cn.techex.listing.submitted.v1"


def test_published_listings_cannot_be_edited():
    with pytest.raises(NotEditable):
        published().edit(details(title="改"), now=T0, actor="hit")


def test_rejected_listings_are_edited_back_into_drafts_and_resubmitted():
    a, _ = draft().submit(now=T0, actor="hit")
    a, rejected = a.reject(reason="材料不全", now=T0, actor="op")
    assert rejected.reason == "材料不全" and a.status is Status.REJECTED
    a, _ = a.edit(details(abstract="补充后的摘要"), now=T0, actor="hit")
    assert a.status is Status.DRAFT and a.reject_reason is None
    a, _ = a.submit(now=T0, actor="hit")
    assert a.status is Status.SUBMITTED


def test_incomplete_drafts_cannot_be_submitted():
    with pytest.raises(IncompleteListing) as e:
        draft(holders=[], abstract="", pricing_route="listing",
              reference_price_fen=None).submit(now=T0, actor="hit")
    assert {err["field"] for err in e.value.errors} == {
        "body.abstract", "body.holders", "body.reference_price_fen"}


def test_cross_border_needs_a_cleared_security_review_before_publication():
    a, _ = draft(cross_border=True).submit(now=T0, actor="hit")
    with pytest.raises(SecurityReviewRequired):
        a.approve(now=T0, actor="op", validity=YEAR)
    refused, _ = a.record_security_review(outcome="refused", reference="R1", now=T0, actor="op")
    with pytest.raises(SecurityReviewRequired):
        refused.approve(now=T0, actor="op", validity=YEAR)
    cleared, event = a.record_security_review(outcome="cleared", reference="R2", now=T0,
                                              actor="op")
    assert event.outcome == "cleared"
    assert cleared.approve(now=T0, actor="op", validity=YEAR)[0].status is Status.PUBLISHED


def test_expiry_only_after_the_period():
    a = published()
    with pytest.raises(IllegalTransition):
        a.expire(now=T0 + YEAR - timedelta(seconds=1))
    expired, event = a.expire(now=T0 + YEAR)
    assert expired.status is Status.EXPIRED and event.ce_type().endswith("expired.v1")


def test_procedures_move_the_listing_and_repeats_change_nothing():
    a = published()
    a, _ = a.enter_transaction(procedure_id="p1", cause="auction.announced", now=T0)
    assert a.status is Status.IN_TRANSACTION
    assert a.enter_transaction(procedure_id="p1", cause="again", now=T0) is None
    assert a.return_from_transaction(procedure_id="other", cause="x", now=T0) is None
    back, _ = a.return_from_transaction(procedure_id="p1", cause="auction.failed", now=T0)
    assert back.status is Status.PUBLISHED
    traded, event = a.trade(procedure_id="d1", cause="contract.registered", now=T0)
    assert traded.status is Status.TRADED and event.ce_type().endswith("traded.v1")
    assert traded.trade(procedure_id="d1", cause="again", now=T0) is None
    with pytest.raises(IllegalTransition):
        traded.withdraw(now=T0, actor="hit")


def test_a_draft_cannot_be_approved_or_enter_a_transaction():
    with pytest.raises(IllegalTransition):
        draft().approve(now=T0, actor="op", validity=YEAR)
    with pytest.raises(IllegalTransition):
        draft().enter_transaction(procedure_id="p", cause="x", now=T0)


def test_pricing_routes_other_than_auction_need_a_price():
    assert PricingRoute.AUCTION.value == "auction"
    a = draft(pricing_route="negotiated", reference_price_fen=None)
    with pytest.raises(IncompleteListing):
        a.submit(now=T0, actor="hit")
