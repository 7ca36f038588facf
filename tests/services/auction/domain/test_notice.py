"""Negotiated price with public notice (协议定价 + 公示): objections and the three outcomes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.auction.domain.errors import (
    IllegalTransition,
    InvalidTerms,
    ObjectionNotFound,
    ObjectionRefused,
)
from services.auction.domain.notice import (
    BuyerRelation,
    Notice,
    NoticeStatus,
    NoticeTerms,
    ObjectionOutcome,
)
from shared.events.auction import (
    AuctionAnnounced,
    AuctionClosed,
    AuctionFailed,
    DealConcluded,
    NoticePublished,
    ObjectionFiled,
    ObjectionResolved,
)
from shared.problems import ValidationFailed
from tests.services.auction.domain.builders import LISTING, REGION, SELLER

PUBLISHED = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)  # 10:00 on 2 April in Shanghai
ENDS = datetime(2026, 4, 17, 16, 0, tzinfo=UTC)     # midnight after 17 April in Shanghai
PRICE = 1_200_000
MIN = timedelta(minutes=1)


def terms(**overrides: Any) -> NoticeTerms:
    fields: dict[str, Any] = {
        "project_name": "石墨烯改性防腐涂料制备技术", "abstract": "水性环氧防腐涂料。",
        "transfer_mode": "transfer", "price_fen": PRICE, "seller_id": SELLER,
        "buyer_id": "longjiang-coatings", "buyer_name": "龙江涂料有限公司",
        "buyer_relation": BuyerRelation.NONE, "published_at": PUBLISHED,
        "inventors": ("张伟", "李娜"),
    }
    return NoticeTerms(**(fields | overrides))


def published(**overrides: Any) -> Notice:
    notice, _ = Notice.publish(terms(**overrides), listing_id=LISTING, region=REGION,
                               actor="operator-230102")
    return notice


def objected(notice: Notice, at: datetime = PUBLISHED + MIN) -> tuple[Notice, uuid.UUID]:
    notice, filed = notice.file_objection("citizen-42", "价格明显偏低", at)
    return notice, filed.objection_id


def test_publication_runs_15_full_shanghai_days() -> None:
    notice, (announced, event) = Notice.publish(
        terms(buyer_relation=BuyerRelation.RELATED_PARTY), listing_id=LISTING, region=REGION,
        actor="operator-230102")
    assert notice.ends_at == ENDS
    assert isinstance(announced, AuctionAnnounced) and announced.route == "negotiated"
    assert isinstance(event, NoticePublished) and event.ends_at == ENDS
    assert (event.price_fen, event.buyer_relation, event.transfer_mode) == (
        PRICE, "related_party", "transfer")
    assert event.project_name == "石墨烯改性防腐涂料制备技术"


def test_no_objection_the_deal_stands() -> None:
    notice = published()
    with pytest.raises(IllegalTransition):
        notice.conclude(ENDS - MIN)
    done, (record, deal) = notice.conclude(ENDS)
    assert done.status is NoticeStatus.CONCLUDED
    assert isinstance(record, AuctionClosed) and record.route == "negotiated"
    assert isinstance(deal, DealConcluded)
    assert (deal.seller_id, deal.buyer_id, deal.price_fen, deal.route) == (
        SELLER, "longjiang-coatings", PRICE, "negotiated")
    with pytest.raises(IllegalTransition):
        done.conclude(ENDS)


def test_a_dismissed_objection_the_deal_stands() -> None:
    notice, objection_id = objected(published())
    notice, resolved = notice.resolve_objection(
        objection_id, ObjectionOutcome.DISMISSED, reason="评估报告显示价格合理",
        operator="operator-230102", at=ENDS + MIN)  # resolved after the notice ended
    assert isinstance(resolved, ObjectionResolved) and resolved.outcome == "dismissed"
    assert resolved.reason == "评估报告显示价格合理" and resolved.actor == "operator-230102"
    done, (_, deal) = notice.conclude(ENDS + 2 * MIN)
    assert done.status is NoticeStatus.CONCLUDED and isinstance(deal, DealConcluded)


def test_an_upheld_objection_fails_the_procedure() -> None:
    notice, first = objected(published())
    notice, second = objected(notice, ENDS - MIN)
    notice, _ = notice.resolve_objection(first, ObjectionOutcome.DISMISSED, reason="不成立",
                                         operator="op", at=ENDS)
    with pytest.raises(IllegalTransition) as e:
        notice.conclude(ENDS)  # the second one is still pending
    assert e.value.extensions["pending"] == [str(second)]
    notice, _ = notice.resolve_objection(second, ObjectionOutcome.UPHELD,
                                         reason="受让方为关联方未披露", operator="op", at=ENDS)
    failed, (event,) = notice.conclude(ENDS)
    assert failed.status is NoticeStatus.FAILED
    assert isinstance(event, AuctionFailed) and event.reason == "objection-upheld"


def test_objections_are_filed_only_while_the_notice_runs() -> None:
    notice = published()
    _, filed = notice.file_objection("citizen-42", "价格偏低", ENDS - timedelta(microseconds=1))
    assert isinstance(filed, ObjectionFiled) and filed.actor == "citizen-42"
    with pytest.raises(ObjectionRefused):
        notice.file_objection("citizen-42", "价格偏低", ENDS)
    with pytest.raises(ObjectionRefused):
        notice.file_objection("citizen-42", "价格偏低", PUBLISHED - MIN)
    with pytest.raises(ValidationFailed):
        notice.file_objection("citizen-42", "  ", PUBLISHED)
    done, _ = notice.conclude(ENDS)
    with pytest.raises(ObjectionRefused):
        done.file_objection("citizen-42", "价格偏低", PUBLISHED)


def test_resolution_refusals() -> None:
    notice, objection_id = objected(published())
    with pytest.raises(ObjectionNotFound):
        notice.resolve_objection(uuid.uuid4(), ObjectionOutcome.UPHELD, reason="x",
                                 operator="op", at=ENDS)
    with pytest.raises(ValidationFailed):
        notice.resolve_objection(objection_id, ObjectionOutcome.UPHELD, reason=" ",
                                 operator="op", at=ENDS)
    notice, _ = notice.resolve_objection(objection_id, ObjectionOutcome.UPHELD, reason="成立",
                                         operator="op", at=ENDS)
    with pytest.raises(ObjectionRefused):
        notice.resolve_objection(objection_id, ObjectionOutcome.DISMISSED, reason="改判",
                                 operator="op", at=ENDS)
    [objection] = notice.objections
    assert (objection.outcome, objection.reason, objection.resolved_by) == (
        ObjectionOutcome.UPHELD, "成立", "op")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"days": 14}, "terms.days"),
    ({"days": 15, "min_days": 20}, "terms.days"),
    ({"price_fen": 0}, "terms.price_fen"),
    ({"transfer_mode": "raffle"}, "terms.transfer_mode"),
    ({"buyer_id": SELLER}, "terms.buyer_id"),
    ({"buyer_name": "李娜"}, "terms.buyer_relation"),  # an inventor, not flagged
    ({"project_name": " "}, "terms.project_name"),
])
def test_invalid_terms(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidTerms) as e:
        terms(**overrides)
    assert [err["field"] for err in e.value.errors] == [field]


def test_a_flagged_inventor_buyer_and_a_longer_notice_are_fine() -> None:
    notice = published(buyer_name="李娜", buyer_relation=BuyerRelation.INVENTOR, days=30)
    assert notice.ends_at == ENDS + timedelta(days=15)
