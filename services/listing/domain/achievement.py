"""The achievement listing (科技成果) and its lifecycle.

draft → submitted → under_review → published → in_transaction → traded,
or rejected (edit and resubmit) / withdrawn / expired. Each transition returns the new state and
the event that records it; the rules live here and nowhere else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from services.listing.domain.errors import (
    IllegalTransition,
    IncompleteListing,
    NotEditable,
    SecurityReviewRequired,
)
from services.listing.domain.fields import TechField
from services.listing.domain.ip import IpType
from shared.events.listing import (
    Holder,
    ListingCreated,
    ListingExpired,
    ListingInTransaction,
    ListingPublished,
    ListingRejected,
    ListingReturned,
    ListingReviewStarted,
    ListingSecurityReviewed,
    ListingSnapshot,
    ListingSubmitted,
    ListingTraded,
    ListingUpdated,
    ListingWithdrawn,
)


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    PUBLISHED = "published"
    IN_TRANSACTION = "in_transaction"
    TRADED = "traded"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class TransferMode(StrEnum):
    TRANSFER = "transfer"                  # 转让
    LICENSE_EXCLUSIVE = "license_exclusive"  # 独占许可
    LICENSE_SOLE = "license_sole"          # 排他许可
    LICENSE_ORDINARY = "license_ordinary"  # 普通许可
    EQUITY = "equity"                      # 作价投资
    CO_DEVELOPMENT = "co_development"      # 合作开发


class PricingRoute(StrEnum):
    AUCTION = "auction"        # 拍卖
    LISTING = "listing"        # 挂牌交易
    NEGOTIATED = "negotiated"  # 协议定价 + 公示


EDITABLE = frozenset({Status.DRAFT, Status.REJECTED})
REVIEWABLE = frozenset({Status.SUBMITTED, Status.UNDER_REVIEW})
SEARCHABLE_STATUSES = frozenset(
    {Status.PUBLISHED, Status.IN_TRANSACTION, Status.TRADED, Status.EXPIRED}
)
"""Statuses a listing can have once it was published; the public search never shows drafts."""
PUBLICLY_LISTED = (Status.PUBLISHED, Status.IN_TRANSACTION, Status.TRADED)
"""What the public list of achievements shows (an expired one stays readable by its id, one
of :data:`SEARCHABLE_STATUSES`; anything never published or taken back is not found)."""
WITHDRAWABLE = frozenset(
    {Status.DRAFT, Status.SUBMITTED, Status.UNDER_REVIEW, Status.PUBLISHED, Status.REJECTED}
)


@dataclass(frozen=True)
class Details:
    """What the seller says about the achievement; editable while draft or rejected."""

    title: str
    abstract: str
    field: TechField
    industry: str
    keywords: tuple[str, ...]
    ip_type: IpType
    ip_numbers: tuple[str, ...]
    trl: int
    holders: tuple[Holder, ...]
    inventors: tuple[str, ...]
    transfer_mode: TransferMode
    pricing_route: PricingRoute
    reference_price_fen: int | None
    dual_use: bool = False
    public_welfare: bool = False
    cross_border: bool = False

    def snapshot(self) -> ListingSnapshot:
        return ListingSnapshot(
            title=self.title, abstract=self.abstract, field=self.field.value,
            industry=self.industry, keywords=list(self.keywords), ip_type=self.ip_type.value,
            ip_numbers=list(self.ip_numbers), trl=self.trl, holders=list(self.holders),
            inventors=list(self.inventors), transfer_mode=self.transfer_mode.value,
            pricing_route=self.pricing_route.value,
            reference_price_fen=self.reference_price_fen, dual_use=self.dual_use,
            public_welfare=self.public_welfare, cross_border=self.cross_border,
        )

    def missing_for_submission(self) -> list[str]:
        """Fields a reviewer needs that a draft may still lack."""
        missing = []
        if not self.abstract.strip():
            missing.append("abstract")
        if not self.holders:
            missing.append("holders")
        if self.ip_type.is_patent and not self.ip_numbers:
            missing.append("ip_numbers")
        if self.pricing_route is not PricingRoute.AUCTION and self.reference_price_fen is None:
            missing.append("reference_price_fen")
        return missing


@dataclass(frozen=True)
class SecurityReview:
    outcome: str  # cleared | refused
    reference: str
    reviewer: str
    at: datetime


@dataclass(frozen=True)
class Achievement:
    id: uuid.UUID
    seller_id: str
    region: str
    status: Status
    details: Details
    created_at: datetime
    updated_at: datetime
    version: int = 1
    reject_reason: str | None = None
    security_review: SecurityReview | None = None
    published_at: datetime | None = None
    expires_at: datetime | None = None
    procedure_id: str | None = None

    # -- creation -------------------------------------------------------------------------
    @classmethod
    def draft(
        cls, *, seller_id: str, region: str, details: Details, now: datetime
    ) -> tuple[Achievement, ListingCreated]:
        a = cls(id=uuid.uuid4(), seller_id=seller_id, region=region, status=Status.DRAFT,
                details=details, created_at=now, updated_at=now)
        return a, ListingCreated(listing_id=a.id, region=region, occurred_at=now,
                                 actor=seller_id, seller_id=seller_id, listing=details.snapshot())

    # -- the seller -----------------------------------------------------------------------
    def edit(self, details: Details, *, now: datetime, actor: str) -> tuple[Achievement,
                                                                           ListingUpdated]:
        if self.status not in EDITABLE:
            raise NotEditable(detail=f"The listing is {self.status.value}; it cannot be edited.")
        a = self._next(status=Status.DRAFT, details=details, now=now, reject_reason=None)
        return a, ListingUpdated(**self._event_base(now, actor), listing=details.snapshot())

    def submit(self, *, now: datetime, actor: str) -> tuple[Achievement, ListingSubmitted]:
        self._require({Status.DRAFT}, "submit")
        missing = self.details.missing_for_submission()
        if missing:
            raise IncompleteListing(
                detail="Complete the listing before submitting it.",
                errors=[{"field": f"body.{m}", "message": "required for review"}
                        for m in missing],
            )
        return (self._next(status=Status.SUBMITTED, now=now),
                ListingSubmitted(**self._event_base(now, actor)))

    def withdraw(self, *, now: datetime, actor: str) -> tuple[Achievement, ListingWithdrawn]:
        self._require(WITHDRAWABLE, "withdraw")
        return (self._next(status=Status.WITHDRAWN, now=now),
                ListingWithdrawn(**self._event_base(now, actor)))

    # -- the operator ---------------------------------------------------------------------
    def start_review(self, *, now: datetime, actor: str
                     ) -> tuple[Achievement, ListingReviewStarted]:
        self._require({Status.SUBMITTED}, "start the review of")
        return (self._next(status=Status.UNDER_REVIEW, now=now),
                ListingReviewStarted(**self._event_base(now, actor)))

    def record_security_review(
        self, *, outcome: str, reference: str, now: datetime, actor: str
    ) -> tuple[Achievement, ListingSecurityReviewed]:
        if not self.details.cross_border:
            raise IllegalTransition(detail="Only cross-border listings have a security review.")
        self._require(WITHDRAWABLE - {Status.PUBLISHED}, "record a security review for")
        review = SecurityReview(outcome=outcome, reference=reference, reviewer=actor, at=now)
        return (self._next(security_review=review, now=now),
                ListingSecurityReviewed(**self._event_base(now, actor), outcome=outcome,
                                        reference=reference))

    def approve(
        self, *, now: datetime, actor: str, validity: timedelta
    ) -> tuple[Achievement, ListingPublished]:
        self._require(REVIEWABLE, "approve")
        if self.details.cross_border and (
            self.security_review is None or self.security_review.outcome != "cleared"
        ):
            raise SecurityReviewRequired(
                detail="Record a cleared export-control and security review first "
                       "(涉外成果须经安全审查).")
        expires = now + validity
        a = self._next(status=Status.PUBLISHED, now=now, published_at=now, expires_at=expires)
        return a, ListingPublished(**self._event_base(now, actor), seller_id=self.seller_id,
                                   expires_at=expires, listing=self.details.snapshot())

    def reject(self, *, reason: str, now: datetime, actor: str) -> tuple[Achievement,
                                                                        ListingRejected]:
        self._require(REVIEWABLE, "reject")
        return (self._next(status=Status.REJECTED, now=now, reject_reason=reason),
                ListingRejected(**self._event_base(now, actor), reason=reason))

    def expire(self, *, now: datetime) -> tuple[Achievement, ListingExpired]:
        self._require({Status.PUBLISHED}, "expire")
        if self.expires_at is None or now < self.expires_at:
            raise IllegalTransition(detail="The listing's publication period has not ended.")
        return (self._next(status=Status.EXPIRED, now=now),
                ListingExpired(**self._event_base(now, "listing")))

    # -- other services' procedures -------------------------------------------------------
    def enter_transaction(
        self, *, procedure_id: str, cause: str, now: datetime
    ) -> tuple[Achievement, ListingInTransaction] | None:
        """None when already in this procedure (a redelivered or reordered event)."""
        if self.status is Status.IN_TRANSACTION and self.procedure_id == procedure_id:
            return None
        self._require({Status.PUBLISHED}, "start a transaction on")
        return (self._next(status=Status.IN_TRANSACTION, now=now, procedure_id=procedure_id),
                ListingInTransaction(**self._event_base(now, cause), cause=cause,
                                     procedure_id=procedure_id))

    def return_from_transaction(
        self, *, procedure_id: str, cause: str, now: datetime
    ) -> tuple[Achievement, ListingReturned] | None:
        if self.status is not Status.IN_TRANSACTION or self.procedure_id != procedure_id:
            return None  # not (or no longer) in that procedure
        return (self._next(status=Status.PUBLISHED, now=now, procedure_id=None),
                ListingReturned(**self._event_base(now, cause), cause=cause,
                                procedure_id=procedure_id))

    def trade(self, *, procedure_id: str, cause: str, now: datetime
              ) -> tuple[Achievement, ListingTraded] | None:
        if self.status is Status.TRADED:
            return None
        self._require({Status.PUBLISHED, Status.IN_TRANSACTION}, "mark as traded")
        return (self._next(status=Status.TRADED, now=now, procedure_id=procedure_id),
                ListingTraded(**self._event_base(now, cause), cause=cause,
                              procedure_id=procedure_id))

    # -- helpers --------------------------------------------------------------------------
    def _require(self, allowed: frozenset[Status] | set[Status], action: str) -> None:
        if self.status not in allowed:
            raise IllegalTransition(
                detail=f"Cannot {action} a listing that is {self.status.value}.",
                status_now=self.status.value,
            )

    def _next(self, *, now: datetime, **changes: object) -> Achievement:
        return replace(self, updated_at=now, version=self.version + 1, **changes)

    def _event_base(self, now: datetime, actor: str) -> dict:
        return {"listing_id": self.id, "region": self.region, "occurred_at": now, "actor": actor}
