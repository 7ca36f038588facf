"""Request and response bodies of the listing API, the search queries and their pages."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Generic, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from services.listing.domain.achievement import (
    PUBLICLY_LISTED,
    SEARCHABLE_STATUSES,
    Achievement,
    Details,
    PricingRoute,
    Status,
    TransferMode,
)
from services.listing.domain.demand import CallMode, Demand, DemandStatus
from services.listing.domain.fields import TechField
from services.listing.domain.ip import IpType, invalid_ip_number
from services.listing.domain.notification import Kind as NotificationKind
from shared.bounds import AwareTimestamp, Fen, FenParam, Flag, int_field, text
from shared.events.listing import Holder
from shared.federation import Partner
from shared.regions import InvalidRegion, Region, RegionCode, RegionLevel
from shared.settings import CommonSettings

ABSTRACT_CHARS = 200
"""How much of an abstract or description a search hit shows."""

Keyword = Annotated[str, text(50)]
IpNumber = Annotated[str, text(50)]
Inventor = Annotated[str, text(100)]
TRL = Annotated[int, int_field(ge=1, le=9,
                               description="technology readiness level (技术成熟度) 1–9")]


def _clean_words(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v.strip()]


class AchievementIn(BaseModel):
    """An achievement as the seller describes it."""

    title: str = text(200, min_length=1, examples=["石墨烯改性防腐涂料制备技术"])
    abstract: str = text(5000, default="")
    region: RegionCode = Field(examples=["230102"])
    field: TechField
    industry: str = text(100, default="")
    keywords: Annotated[list[Keyword], AfterValidator(_clean_words)] = Field(
        default=[], max_length=20)
    ip_type: IpType
    ip_numbers: list[IpNumber] = Field(default=[], max_length=50)
    trl: TRL
    holders: list[Holder] = Field(default=[], max_length=20)
    inventors: list[Inventor] = Field(default=[], max_length=100)
    transfer_mode: TransferMode
    pricing_route: PricingRoute
    reference_price_fen: Fen | None = None
    dual_use: Flag = False
    public_welfare: Flag = False
    cross_border: Flag = False

    @field_validator("ip_numbers")
    @classmethod
    def _ip_numbers_are_valid(cls, numbers: list[str], info: ValidationInfo) -> list[str]:
        ip_type = info.data.get("ip_type")
        if ip_type is None:
            return numbers  # ip_type itself is invalid and reported
        for i, number in enumerate(numbers):
            why = invalid_ip_number(ip_type, number)
            if why:
                raise PydanticCustomError(
                    "ip_number", "ip_numbers[{index}] {number}: {why}",
                    {"index": i, "number": number, "why": why})
        return numbers

    def details(self) -> Details:
        return Details(
            title=self.title.strip(), abstract=self.abstract.strip(), field=self.field,
            industry=self.industry.strip(), keywords=tuple(self.keywords),
            ip_type=self.ip_type, ip_numbers=tuple(n.strip().upper() for n in self.ip_numbers),
            trl=self.trl, holders=tuple(self.holders),
            inventors=tuple(i.strip() for i in self.inventors if i.strip()),
            transfer_mode=self.transfer_mode, pricing_route=self.pricing_route,
            reference_price_fen=self.reference_price_fen, dual_use=self.dual_use,
            public_welfare=self.public_welfare, cross_border=self.cross_border,
        )


class AchievementOut(AchievementIn):
    id: uuid.UUID
    seller_id: str
    status: str
    reject_reason: str | None
    security_review: dict | None
    published_at: datetime | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, a: Achievement) -> AchievementOut:
        d = a.details
        review = None
        if a.security_review:
            r = a.security_review
            review = {"outcome": r.outcome, "reference": r.reference, "reviewer": r.reviewer,
                      "at": r.at.isoformat()}
        return cls.model_construct(
            id=a.id, seller_id=a.seller_id, region=a.region, status=a.status.value,
            title=d.title, abstract=d.abstract, field=d.field, industry=d.industry,
            keywords=list(d.keywords), ip_type=d.ip_type, ip_numbers=list(d.ip_numbers),
            trl=d.trl, holders=list(d.holders), inventors=list(d.inventors),
            transfer_mode=d.transfer_mode, pricing_route=d.pricing_route,
            reference_price_fen=d.reference_price_fen, dual_use=d.dual_use,
            public_welfare=d.public_welfare, cross_border=d.cross_border,
            reject_reason=a.reject_reason, security_review=review,
            published_at=a.published_at, expires_at=a.expires_at, created_at=a.created_at,
            updated_at=a.updated_at,
        )


class RejectIn(BaseModel):
    reason: str = text(1000, min_length=2, examples=["知识产权证明材料不全"])


class SecurityReviewIn(BaseModel):
    outcome: Literal["cleared", "refused"]
    reference: str = text(200, min_length=1, examples=["黑科审〔2026〕12号"])


class DemandIn(BaseModel):
    title: str = text(200, min_length=1, examples=["高炉煤气深度脱硫技术"])
    description: str = text(5000, min_length=1)
    region: RegionCode
    field: TechField
    keywords: Annotated[list[Keyword], AfterValidator(_clean_words)] = Field(
        default=[], max_length=20)
    mode: CallMode = CallMode.OPEN_CALL
    budget_fen: Fen | None = None
    min_trl: TRL = 1
    deadline: AwareTimestamp


class DemandOut(DemandIn):
    id: uuid.UUID
    enterprise_id: str
    status: str
    awarded_proposal: uuid.UUID | None
    created_at: datetime

    @classmethod
    def of(cls, d: Demand) -> DemandOut:
        return cls.model_construct(
            id=d.id, enterprise_id=d.enterprise_id, region=d.region, title=d.title,
            description=d.description, field=d.field, keywords=list(d.keywords), mode=d.mode,
            budget_fen=d.budget_fen, min_trl=d.min_trl, deadline=d.deadline,
            status=d.status.value, awarded_proposal=d.awarded_proposal,
            created_at=d.created_at)


class ProposalIn(BaseModel):
    summary: str = text(5000, min_length=1)
    listing_id: uuid.UUID | None = None
    price_fen: Fen | None = None


class ProposalOut(BaseModel):
    id: uuid.UUID
    provider_id: str
    listing_id: uuid.UUID | None
    price_fen: int | None
    summary: str
    created_at: datetime


class Created(BaseModel):
    id: uuid.UUID


class AwardIn(BaseModel):
    proposal_id: uuid.UUID


class InterestIn(BaseModel):
    query: str = text(200, default="", examples=["石墨烯 防腐"])
    field: TechField | None = None
    min_trl: TRL | None = None
    max_price_fen: Fen | None = None

    @model_validator(mode="after")
    def _something_to_match(self) -> InterestIn:
        if not (self.query.strip() or self.field or self.min_trl or self.max_price_fen):
            raise ValueError("an interest needs a query or at least one criterion")
        return self


class InterestOut(BaseModel):
    id: uuid.UUID
    buyer_id: str
    region: str
    query: str
    field: str | None
    min_trl: int | None
    max_price_fen: int | None
    created_at: datetime


class Match(StrEnum):
    """How the text query was applied to the page."""

    ALL_WORDS = "all_words"  # every query word occurs in the listing
    ANY_WORD = "any_word"    # fallback: at least one query word occurs
    NO_TEXT = "no_text"      # unranked, newest first: no (meaningful) text, filters only;
    #                          or sort=newest: every query word occurs



# -- search ---------------------------------------------------------------------------------------


class TextQuery(BaseModel):
    """What every search takes: text, fields, a region subtree and a page."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = text(200, default=None, examples=["石墨烯 防腐涂料"],
                                 description="Chinese text, cut into words as the listings are")
    field: list[TechField] = Field(default_factory=list, description="Any of these fields")
    region: RegionCode | None = Field(
        default=None, description="A province, city or county: its whole subtree matches")
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2000,
                               description="`next_cursor` of the previous page")


class Sort(StrEnum):
    """The order of an achievement search with text."""

    RELEVANCE = "relevance"  # best match first (without text: newest first)
    NEWEST = "newest"        # every query word occurs; newest first


class Origin(StrEnum):
    """Whose listings a search looks at."""

    LOCAL = "local"        # this deployment's own
    PARTNERS = "partners"  # the partners' (their public catalog, mirrored here)
    ALL = "all"


def _province(code: str) -> str:
    try:
        region = Region.known(code)
    except InvalidRegion as exc:
        raise PydanticCustomError("province", "{reason}", {"reason": str(exc)}) from exc
    if region.level is not RegionLevel.PROVINCE:
        raise PydanticCustomError("province", "{code} is a {level}, not a province (PP0000)",
                                  {"code": code, "level": region.level.value})
    return code


ProvinceCode = Annotated[str, Field(pattern=r"^[0-9]{2}0000$", examples=["120000"]),
                         AfterValidator(_province)]


class AchievementFilters(TextQuery):
    """What an achievement search filters on besides its status; list filters mean "any of"."""

    origin: Origin = Field(default=Origin.ALL, description=(
        "local: this deployment's listings; partners: the partners' published ones; all"))
    province: list[ProvinceCode] = Field(default_factory=list, max_length=34, description=(
        "Any of these provinces (PP0000): the listings of that province, ours or a partner's"))

    trl_min: int | None = Field(default=None, ge=1, le=9)
    trl_max: int | None = Field(default=None, ge=1, le=9)
    ip_type: list[IpType] = Field(default_factory=list)
    pricing_route: list[PricingRoute] = Field(default_factory=list)
    price_min_fen: FenParam | None = Field(default=None, description="reference price ≥")
    price_max_fen: FenParam | None = Field(default=None, description="reference price ≤")
    sort: Sort = Field(default=Sort.RELEVANCE,
                       description="relevance (default) or newest first; without q, newest")

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if self.trl_min is not None and self.trl_max is not None and self.trl_min > self.trl_max:
            raise ValueError("trl_min must not exceed trl_max")
        if (self.price_min_fen is not None and self.price_max_fen is not None
                and self.price_min_fen > self.price_max_fen):
            raise ValueError("price_min_fen must not exceed price_max_fen")
        return self


class AchievementQuery(AchievementFilters):
    """A search of achievements (科技成果); list filters mean "any of"."""

    status: list[Status] = Field(default_factory=lambda: [Status.PUBLISHED], min_length=1)

    @field_validator("status")
    @classmethod
    def _searchable(cls, statuses: list[Status]) -> list[Status]:
        hidden = [s.value for s in statuses if s not in SEARCHABLE_STATUSES]
        if hidden:
            allowed = ", ".join(sorted(SEARCHABLE_STATUSES))
            raise ValueError(f"{', '.join(hidden)} listings are not searchable; use {allowed}")
        return statuses


SearchQuery = AchievementQuery


class DemandQuery(TextQuery):
    """A search of technology demands (技术需求)."""

    status: list[DemandStatus] = Field(default_factory=lambda: [DemandStatus.OPEN],
                                       min_length=1)


class PublishedAchievementQuery(AchievementFilters):
    """The public search of achievements: the filters of ``/search/achievements``, over
    published, in-transaction and traded listings only (no ``status`` to ask for others)."""

    def search(self) -> AchievementQuery:
        return AchievementQuery(**dict(self), status=list(PUBLICLY_LISTED))


class OpenDemandQuery(TextQuery):
    """The public search of technology demands: open ones only (no ``status``)."""

    def search(self) -> DemandQuery:
        return DemandQuery(**dict(self), status=[DemandStatus.OPEN])


# -- search results -------------------------------------------------------------------------------


class _Hit(BaseModel):
    id: uuid.UUID
    title: str
    field: TechField
    region: str
    score: float | None = Field(description="ts_rank_cd relevance in [0, 1); null without q")
    highlight: list[str] = Field(description="Query words found in the title")


class HitOrigin(BaseModel):
    """The deployment a listing is published at: this one or a partner."""

    alias: str = Field(examples=["tianjin"])
    region: str = Field(description="the province it serves (000000: the national hub)",
                        examples=["120000"])
    name: str = Field(examples=["天津市"])


class AchievementHit(_Hit):
    abstract: str = Field(description=f"The first {ABSTRACT_CHARS} characters")
    trl: int
    ip_type: IpType
    pricing_route: PricingRoute
    reference_price_fen: int | None
    status: Status
    published_at: datetime
    origin: HitOrigin
    origin_url: str | None = Field(description=(
        "The listing's page at its origin (a partner's portal); null where the origin has "
        "no portal configured"))


@dataclass(frozen=True)
class Places:
    """Where listings come from: this deployment and its partners (``origin`` of a hit)."""

    local: HitOrigin
    local_portal: str | None = None
    partners: dict[str, Partner] = dataclass_field(default_factory=dict)

    @classmethod
    def of(cls, common: CommonSettings) -> Places:
        federation = common.federation
        if federation is None:
            try:
                name = Region.known(common.region).name
            except InvalidRegion:
                name = common.region
            return cls(HitOrigin(alias="local", region=common.region, name=name))
        return cls(HitOrigin(alias=federation.alias, region=federation.region,
                             name=federation.name),
                   str(federation.portal_url).rstrip("/") if federation.portal_url else None,
                   {p.alias: p for p in federation.partners})

    def place(self, alias: str | None, path: str) -> tuple[HitOrigin, str | None]:
        """The origin of a hit (``alias`` None: this deployment) and its page there."""
        if alias is None:
            return self.local, (self.local_portal + path) if self.local_portal else None
        partner = self.partners.get(alias)
        if partner is None:  # a partner since dropped from the file
            return HitOrigin(alias=alias, region="", name=alias), None
        return (HitOrigin(alias=partner.alias, region=partner.region, name=partner.name),
                partner.page(path))


class DemandHit(_Hit):
    description: str = Field(description=f"The first {ABSTRACT_CHARS} characters")
    mode: CallMode
    min_trl: int
    budget_fen: int | None
    deadline: datetime
    status: DemandStatus
    created_at: datetime


H = TypeVar("H", bound=_Hit)


class Page(BaseModel, Generic[H]):
    items: list[H]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; "
                                    "null on the last page")
    match: Match
    words: list[str] = Field(description="The query as the segmenter cut it")


# -- matching --------------------------------------------------------------------------------


class _Match(BaseModel):
    id: uuid.UUID
    title: str
    field: TechField
    region: str
    score: float = Field(ge=0, le=1)
    reasons: list[str] = Field(examples=[["共同词语: 石墨烯, 防腐", "技术领域相同: 新材料"]])


class AchievementMatch(_Match):
    trl: int
    pricing_route: PricingRoute
    reference_price_fen: int | None


class DemandMatch(_Match):
    min_trl: int
    budget_fen: int | None
    deadline: datetime


M = TypeVar("M", AchievementMatch, DemandMatch)


class Matches(BaseModel, Generic[M]):
    items: list[M]


# -- the public views (no token) --------------------------------------------------------------
# Each public model names its fields one by one and is filled field by field from the domain
# object or the search row, never from a private model: a field added to a listing stays
# private until it is added here (and to the allow-list of tests/services/test_public_views.py).


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]
"""A time as the public API writes it: UTC."""


class PublicHolder(BaseModel):
    """A rights holder (权利人) as the public sees it."""

    name: str
    kind: Literal["university", "institute", "enterprise", "other"]


class PublicOrigin(BaseModel):
    """The deployment (province) a listing is published at."""

    alias: str
    region: str
    name: str


class PublicAchievementHit(BaseModel):
    """A published achievement in the public search."""

    id: uuid.UUID
    title: str
    abstract: str = Field(description=f"The first {ABSTRACT_CHARS} characters")
    field: TechField
    region: str
    trl: int
    ip_type: IpType
    pricing_route: PricingRoute
    reference_price_fen: int | None
    status: Status
    published_at: UtcTime
    highlight: list[str] = Field(description="Query words found in the title")
    score: float | None = Field(description="ts_rank_cd relevance in [0, 1); null without q "
                                "or sorted by newest")
    origin: PublicOrigin = Field(description="where it is published: here or a partner")
    origin_url: str | None = Field(description="its page at the origin, if known")

    @classmethod
    def of(cls, hit: AchievementHit) -> PublicAchievementHit:
        o = hit.origin
        return cls(id=hit.id, title=hit.title, abstract=hit.abstract, field=hit.field,
                   region=hit.region, trl=hit.trl, ip_type=hit.ip_type,
                   pricing_route=hit.pricing_route, reference_price_fen=hit.reference_price_fen,
                   status=hit.status, published_at=hit.published_at,
                   highlight=list(hit.highlight), score=hit.score,
                   origin=PublicOrigin(alias=o.alias, region=o.region, name=o.name),
                   origin_url=hit.origin_url)


class PublicAchievementPage(BaseModel):
    items: list[PublicAchievementHit]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; "
                                    "null on the last page")


class PublicAchievement(BaseModel):
    """An achievement (科技成果) as the public sees it once it was published."""

    id: uuid.UUID
    title: str
    abstract: str
    field: TechField
    industry: str
    keywords: list[str]
    ip_type: IpType
    ip_numbers: list[str]
    trl: int
    holders: list[PublicHolder]
    inventors: list[str]
    transfer_mode: TransferMode
    pricing_route: PricingRoute
    reference_price_fen: int | None
    region: str
    seller_id: str
    status: Status
    published_at: UtcTime | None
    expires_at: UtcTime | None

    @classmethod
    def of(cls, a: Achievement) -> PublicAchievement:
        d = a.details
        return cls(
            id=a.id, title=d.title, abstract=d.abstract, field=d.field, industry=d.industry,
            keywords=list(d.keywords), ip_type=d.ip_type, ip_numbers=list(d.ip_numbers),
            trl=d.trl, holders=[PublicHolder(name=h.name, kind=h.kind) for h in d.holders],
            inventors=list(d.inventors), transfer_mode=d.transfer_mode,
            pricing_route=d.pricing_route, reference_price_fen=d.reference_price_fen,
            region=a.region, seller_id=a.seller_id, status=a.status,
            published_at=a.published_at, expires_at=a.expires_at)


class PublicDemandHit(BaseModel):
    """An open technology demand in the public list."""

    id: uuid.UUID
    title: str
    description: str = Field(description=f"The first {ABSTRACT_CHARS} characters")
    field: TechField
    region: str
    mode: CallMode
    min_trl: int
    budget_fen: int | None
    deadline: UtcTime
    status: DemandStatus
    created_at: UtcTime

    @classmethod
    def of(cls, hit: DemandHit) -> PublicDemandHit:
        return cls(id=hit.id, title=hit.title, description=hit.description, field=hit.field,
                   region=hit.region, mode=hit.mode, min_trl=hit.min_trl,
                   budget_fen=hit.budget_fen, deadline=hit.deadline, status=hit.status,
                   created_at=hit.created_at)


class PublicDemandPage(BaseModel):
    items: list[PublicDemandHit]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; "
                                    "null on the last page")


class PublicDemand(BaseModel):
    """A technology demand and its open call (揭榜) as the public sees it, whatever its status."""

    id: uuid.UUID
    enterprise_id: str
    title: str
    description: str
    field: TechField
    keywords: list[str]
    region: str
    mode: CallMode
    budget_fen: int | None
    min_trl: int
    deadline: UtcTime
    status: DemandStatus
    created_at: UtcTime
    proposals_count: int = Field(description="How many answers the call has had")

    @classmethod
    def of(cls, d: Demand, proposals_count: int) -> PublicDemand:
        return cls(id=d.id, enterprise_id=d.enterprise_id, title=d.title,
                   description=d.description, field=d.field, keywords=list(d.keywords),
                   region=d.region, mode=d.mode, budget_fen=d.budget_fen, min_trl=d.min_trl,
                   deadline=d.deadline, status=d.status, created_at=d.created_at,
                   proposals_count=proposals_count)


PUBLIC_MODELS: tuple[type[BaseModel], ...] = (
    PublicAchievementHit, PublicAchievementPage, PublicAchievement, PublicHolder, PublicOrigin,
    PublicDemandHit, PublicDemandPage, PublicDemand,
)
"""Every model the public API answers with (the allow-list test reads it)."""


# -- notifications, watches and webhooks -----------------------------------------------------
# What an account is told names the procedure, the listing and amounts that are public anyway
# (the new high bid), never another account.

class NotificationOut(BaseModel):
    id: int = Field(description="Increasing per service; the inbox's cursor and the stream's "
                    "event id")
    kind: NotificationKind
    data: dict[str, object] = Field(description="What happened: the procedure and listing, "
                                    "the new high bid, the objection's outcome …")
    created_at: datetime
    read: bool

    @classmethod
    def of(cls, row) -> NotificationOut:
        data = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
        return cls(id=row["id"], kind=row["kind"], data=data, created_at=row["created_at"],
                   read=row["read_at"] is not None)


class Inbox(BaseModel):
    items: list[NotificationOut]
    next_cursor: int | None = Field(description="Pass as `cursor` for the next page; null on "
                                    "the last page")
    unread: int = Field(description="How many of the account's notifications are unread")


class ReadUpTo(BaseModel):
    upto: Annotated[int, int_field(ge=0)] | None = Field(
        default=None, description="mark read every notification up to this id (all of them "
        "without it)")


class MarkedRead(BaseModel):
    marked: int


class WatchIn(BaseModel):
    listing_id: uuid.UUID


class WatchOut(BaseModel):
    listing_id: uuid.UUID
    created_at: datetime


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("url", "an http or https URL with a host")
    return value


WebhookUrl = Annotated[str, Field(min_length=10, max_length=500, pattern=r"^https?://[!-~]+$",
                                  examples=["https://erp.example.cn/techex/hooks"]),
                       AfterValidator(_http_url)]


class WebhookIn(BaseModel):
    url: WebhookUrl
    kinds: list[NotificationKind] | None = Field(
        default=None, max_length=len(NotificationKind),
        description="the kinds of notification to send (every kind without it)")


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    kinds: list[NotificationKind] | None
    created_at: datetime

    @classmethod
    def of(cls, row) -> WebhookOut:
        return cls(id=row["id"], url=row["url"], kinds=row["kinds"],
                   created_at=row["created_at"])


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The HMAC-SHA256 key of the `Techex-Signature` header "
                        "(`t=<unix time>,v1=<hex of HMAC(secret, t + '.' + body)>`); "
                        "answered only now")
