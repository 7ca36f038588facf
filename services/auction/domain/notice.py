"""Negotiated price with public notice (协议定价 + 公示).

The agreed deal (project name, abstract, transfer mode, price, buyer) is published for at least 15
calendar days; a buyer who is an inventor of the achievement or a related party is flagged.
While the notice runs anyone may file an objection (异议); an operator upholds or dismisses each
one with a reason, at any time before the notice is concluded, and both are published. At the
end, once every objection is resolved, one upheld objection fails the procedure; otherwise the
deal stands.

The notice period counts Shanghai calendar days, the publication day not counted (民法典 art.
201), and ends at midnight after its last day: published on 2 April with 15 days, it runs until
the end of 17 April. A last day on a holiday is not moved (objections are filed online), so the
period needs no working-day calendar.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from services.auction.domain.checks import TermsCheck, utc
from services.auction.domain.deals import deal_events, failure_event
from services.auction.domain.errors import (
    IllegalTransition,
    ObjectionNotFound,
    ObjectionRefused,
)
from services.auction.domain.workdays import end_of_day, local_date
from shared.events.auction import (
    AuctionAnnounced,
    NoticePublished,
    ObjectionFiled,
    ObjectionResolved,
)
from shared.events.base import Event
from shared.problems import validation

__all__ = [
    "MIN_NOTICE_DAYS",
    "PUBLIC_OBJECTOR",
    "TRANSFER_MODES",
    "BuyerRelation",
    "Notice",
    "NoticeStatus",
    "NoticeTerms",
    "Objection",
    "ObjectionOutcome",
]

MIN_NOTICE_DAYS: Final = 15
PUBLIC_OBJECTOR: Final = "public"
"""Who filed an objection made without an account (its name and contact are kept apart, for
the operators only; no event carries them)."""
TRANSFER_MODES: Final = frozenset({"transfer", "license_exclusive", "license_sole",
                                   "license_ordinary", "equity", "co_development"})
OBJECTION_UPHELD: Final = "objection-upheld"


class BuyerRelation(StrEnum):
    NONE = "none"
    INVENTOR = "inventor"            # 完成人
    RELATED_PARTY = "related_party"  # 关联方


class NoticeStatus(StrEnum):
    PUBLISHED = "published"
    CONCLUDED = "concluded"
    FAILED = "failed"


class ObjectionOutcome(StrEnum):
    UPHELD = "upheld"
    DISMISSED = "dismissed"


@dataclass(frozen=True, slots=True)
class NoticeTerms:
    """What is published. ``inventors`` (the achievement's, by name) catch an unflagged buyer
    who is one of them; ``min_days`` is the exchange's configured minimum."""

    project_name: str
    abstract: str
    transfer_mode: str
    price_fen: int
    seller_id: str
    buyer_id: str
    buyer_name: str
    buyer_relation: BuyerRelation
    published_at: datetime
    days: int = MIN_NOTICE_DAYS
    min_days: int = MIN_NOTICE_DAYS
    inventors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        c = TermsCheck()
        for text in ("project_name", "abstract", "buyer_id", "buyer_name", "seller_id"):
            c.require(bool(str(getattr(self, text)).strip()), text, "must not be empty")
        c.require(self.transfer_mode in TRANSFER_MODES, "transfer_mode",
                  f"must be one of {sorted(TRANSFER_MODES)}")
        c.fen(self.price_fen, "price_fen")
        c.require(self.buyer_id != self.seller_id, "buyer_id", "must differ from the seller")
        c.require(isinstance(self.buyer_relation, BuyerRelation), "buyer_relation",
                  "must be a BuyerRelation")
        buyer = {self.buyer_name, self.buyer_id}
        if self.buyer_relation is BuyerRelation.NONE and buyer & set(self.inventors):
            c.fail("buyer_relation", "the buyer is an inventor of the achievement: flag it")
        if c.count(self.min_days, "min_days", minimum=1):
            c.count(self.days, "days", minimum=self.min_days)
        if c.aware(self.published_at, "published_at"):
            object.__setattr__(self, "published_at", utc(self.published_at))
        c.raise_if_failed("notice terms")

    @property
    def ends_at(self) -> datetime:
        return end_of_day(local_date(self.published_at) + timedelta(days=self.days))


@dataclass(frozen=True, slots=True)
class Objection:
    id: uuid.UUID
    filed_by: str
    grounds: str
    filed_at: datetime
    outcome: ObjectionOutcome | None = None
    reason: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    id: uuid.UUID
    listing_id: uuid.UUID
    region: str
    terms: NoticeTerms
    objections: tuple[Objection, ...] = ()
    status: NoticeStatus = NoticeStatus.PUBLISHED
    closed_at: datetime | None = None

    @property
    def ends_at(self) -> datetime:
        return self.terms.ends_at

    @property
    def pending(self) -> tuple[Objection, ...]:
        return tuple(o for o in self.objections if o.outcome is None)

    @classmethod
    def publish(
        cls, terms: NoticeTerms, *, listing_id: uuid.UUID, region: str, actor: str,
        procedure_id: uuid.UUID | None = None,
    ) -> tuple[Notice, tuple[AuctionAnnounced, NoticePublished]]:
        pid = procedure_id or uuid.uuid4()
        notice = cls(pid, listing_id, region, terms)
        announced = AuctionAnnounced(
            procedure_id=pid, listing_id=listing_id, route="negotiated", region=region,
            announced_at=terms.published_at, starts_at=terms.published_at)
        published = NoticePublished(
            procedure_id=pid, region=region, occurred_at=terms.published_at, actor=actor,
            listing_id=listing_id, project_name=terms.project_name, abstract=terms.abstract,
            transfer_mode=terms.transfer_mode, price_fen=terms.price_fen,
            seller_id=terms.seller_id, buyer_id=terms.buyer_id, buyer_name=terms.buyer_name,
            buyer_relation=terms.buyer_relation.value, ends_at=terms.ends_at)
        return notice, (announced, published)

    def file_objection(self, filed_by: str, grounds: str, at: datetime, *,
                       objection_id: uuid.UUID | None = None
                       ) -> tuple[Notice, ObjectionFiled]:
        at = utc(at)
        running = self.terms.published_at <= at < self.ends_at
        if self.status is not NoticeStatus.PUBLISHED or not running:
            raise ObjectionRefused(
                f"Objections are filed while the notice runs, until "
                f"{self.ends_at.isoformat()}.", ends_at=self.ends_at.isoformat())
        if not grounds.strip():
            raise validation("An objection states its grounds.",
                             [{"field": "body.grounds", "message": "must not be empty"}])
        objection = Objection(objection_id or uuid.uuid4(), filed_by, grounds, at)
        return (replace(self, objections=(*self.objections, objection)),
                ObjectionFiled(procedure_id=self.id, region=self.region, occurred_at=at,
                               actor=filed_by, objection_id=objection.id, grounds=grounds))

    def resolve_objection(self, objection_id: uuid.UUID, outcome: ObjectionOutcome, *,
                          reason: str, operator: str, at: datetime
                          ) -> tuple[Notice, ObjectionResolved]:
        at = utc(at)
        if self.status is not NoticeStatus.PUBLISHED:
            raise ObjectionRefused(f"The notice is already {self.status.value}.")
        if not reason.strip():
            raise validation("A resolution states its reason.",
                             [{"field": "body.reason", "message": "must not be empty"}])
        found = next((o for o in self.objections if o.id == objection_id), None)
        if found is None:
            raise ObjectionNotFound(f"No objection {objection_id} on this notice.")
        if found.outcome is not None:
            raise ObjectionRefused(f"The objection was already {found.outcome.value}.")
        resolved = replace(found, outcome=outcome, reason=reason, resolved_by=operator,
                           resolved_at=at)
        objections = tuple(resolved if o.id == objection_id else o for o in self.objections)
        return (replace(self, objections=objections),
                ObjectionResolved(procedure_id=self.id, region=self.region, occurred_at=at,
                                  actor=operator, objection_id=objection_id,
                                  outcome=outcome.value, reason=reason))

    def conclude(self, at: datetime) -> tuple[Notice, tuple[Event, ...]]:
        """At the end, with every objection resolved: failed if one was upheld, else a deal."""
        at = utc(at)
        if self.status is not NoticeStatus.PUBLISHED:
            raise IllegalTransition(f"The notice is already {self.status.value}.")
        if at < self.ends_at:
            raise IllegalTransition(f"The notice runs until {self.ends_at.isoformat()}.",
                                    ends_at=self.ends_at.isoformat())
        if self.pending:
            raise IllegalTransition(
                f"{len(self.pending)} objection(s) must be resolved first.",
                pending=[str(o.id) for o in self.pending])
        terms = self.terms
        if any(o.outcome is ObjectionOutcome.UPHELD for o in self.objections):
            return (replace(self, status=NoticeStatus.FAILED, closed_at=at),
                    (failure_event(procedure_id=self.id, listing_id=self.listing_id,
                                   region=self.region, reason=OBJECTION_UPHELD, at=at),))
        return (replace(self, status=NoticeStatus.CONCLUDED, closed_at=at),
                deal_events(procedure_id=self.id, listing_id=self.listing_id,
                            route="negotiated", region=self.region, seller_id=terms.seller_id,
                            buyer_id=terms.buyer_id, price_fen=terms.price_fen, at=at))
