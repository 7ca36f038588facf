"""The registry's HTTP request and response models.

The contract's terms themselves (:class:`~services.registry.domain.terms.ContractTerms` and
its partial :data:`~services.registry.domain.terms.ContractChanges`) are the domain's: the
body a seller files is checked by the same model the contract keeps.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from services.registry.domain.contract import Contract, Filing
from services.registry.domain.tax import tax_flags
from services.registry.domain.terms import ContractTerms
from shared.bounds import text
from shared.events.registry import RefusalReason


# -- contracts ----------------------------------------------------------------------------------
class ReasonCode(StrEnum):
    PARTY_UNCLEAR = "party-unclear"
    SUBJECT_UNCLEAR = "subject-unclear"
    PRICE_UNCLEAR = "price-unclear"
    MONOPOLY_CLAUSE = "monopoly-clause"
    INFRINGING_CLAUSE = "infringing-clause"
    MISSING_EVIDENCE = "missing-evidence"
    ORAL_CONTRACT = "oral-contract"
    NOT_TECHNOLOGY = "not-technology"
    OTHER = "other"


class Reason(BaseModel):
    code: ReasonCode
    detail: str = text(500, default="")


class Refusal(BaseModel):
    reasons: list[Reason] = Field(min_length=1, max_length=len(ReasonCode))

    def refusal_reasons(self) -> list[RefusalReason]:
        return [RefusalReason(code=r.code.value, detail=r.detail) for r in self.reasons]


class Cancellation(BaseModel):
    reason: str = text(500, min_length=1)


class FilingView(BaseModel):
    id: uuid.UUID
    kind: str
    status: str
    filed_by: str
    filed_at: datetime
    due_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str
    reasons: list[dict[str, str]] | None
    terms: dict[str, Any] | None

    @classmethod
    def of(cls, f: Filing) -> FilingView:
        return cls(
            id=f.id, kind=f.kind.value, status=f.status.value, filed_by=f.filed_by,
            filed_at=f.filed_at, due_at=f.due_at, decided_by=f.decided_by,
            decided_at=f.decided_at, reason=f.reason,
            reasons=None if f.reasons is None else [r.model_dump() for r in f.reasons],
            terms=None if f.terms is None else dict(f.terms))


class TaxView(BaseModel):
    income_tax_relief: bool
    income_tax_exempt_fen: int
    income_tax_half_rate_fen: int
    vat_exempt: bool


class ContractView(BaseModel):
    id: uuid.UUID
    deal_id: uuid.UUID | None
    listing_id: uuid.UUID | None
    seller_id: str
    region: str
    status: str
    terms: dict[str, Any]
    registration_number: str | None
    registrar_region: str | None
    registrar_code: int | None
    registered_at: datetime | None
    tax: TaxView | None = Field(description="when the terms are complete")
    filings: list[FilingView]

    @classmethod
    def of(cls, c: Contract) -> ContractView:
        terms = dict(c.terms)
        try:
            tax: TaxView | None = TaxView(**tax_flags(ContractTerms.model_validate(terms)).__dict__)
        except ValidationError:
            tax = None  # a draft the seller has not completed yet
        reg = c.registration
        return cls(
            id=c.id, deal_id=c.deal_id, listing_id=c.listing_id, seller_id=c.seller_id,
            region=c.region, status=c.status.value, terms=terms,
            registration_number=reg and reg.number,
            registrar_region=reg and reg.registrar_region,
            registrar_code=reg and reg.registrar_code, registered_at=reg and reg.registered_at,
            tax=tax, filings=[FilingView.of(f) for f in c.filings])


class PendingFiling(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    kind: str
    region: str
    filed_by: str
    filed_at: datetime
    due_at: datetime
    overdue: bool


# -- sub-platforms and their targets (public: GET /public/subplatforms, statistics) ------------
class PublicFeeTier(BaseModel):
    up_to_fen: int | None = Field(description="the tier's upper bound; null: open-ended")
    rate_bp: int = Field(description="basis points of the part of the price in the tier")


class PublicFeeSchedule(BaseModel):
    """A 交易服务费 schedule, charged to each side: marginal tiers, then the minimum and the
    maximum per side."""

    tiers: list[PublicFeeTier]
    minimum_fen: int
    maximum_fen: int | None


class PublicFees(BaseModel):
    """The schedule per procedure kind, and the sub-platform whose schedule it is."""

    set_by: str = Field(description="region of the sub-platform whose schedule applies here")
    auction: PublicFeeSchedule
    listing: PublicFeeSchedule
    negotiated: PublicFeeSchedule


class PublicYearTarget(BaseModel):
    year: int
    growth_percent: Decimal | None = Field(description="year-on-year growth to reach, in %")
    amount_fen: int | None = Field(description="technology transaction amount to reach")
    contracts: int | None = Field(description="registered contracts to reach")


class PublicSubplatform(BaseModel):
    """A sub-platform of the deployment, with what it inherits resolved."""

    region: str
    region_name: str = Field(description="the region's full name, e.g. 黑龙江省大庆市")
    level: Literal["province", "city", "county"]
    parent: str | None = Field(description="region of the sub-platform above it")
    name: str
    operator: str = Field(description="the operator organisation")
    fees: PublicFees
    review_days: int = Field(description="calendar days a registrar has to decide a filing")
    subsidy_policy: str | None
    targets: list[PublicYearTarget]


class PublicTargetProgress(BaseModel):
    """A region's year so far against its own target of that year."""

    region: str
    name: str = Field(description="the sub-platform's name")
    year: int
    through_month: int = Field(description="the figures are of months 1 to this one")
    target: PublicYearTarget | None = Field(description="null: no target for the year")
    contracts: int
    tech_amount_fen: int
    previous_year_tech_amount_fen: int = Field(description="the same months a year earlier")
    growth_percent: float | None
    amount_progress_percent: float | None
    contracts_progress_percent: float | None
    growth_met: bool | None
    amount_met: bool | None
    contracts_met: bool | None


# -- statistics ---------------------------------------------------------------------------------
By = Literal["region", "month", "category", "field", "entity_type", "ip_type", "flow",
             "cross_border"]


class Row(BaseModel):
    key: str
    name: str | None = None
    contracts: int
    tech_amount_fen: int


class CrossProvinceRow(BaseModel):
    """The contracts of a region with the parties in one other province."""

    region: str = Field(description="the other province (PP0000)")
    name: str | None = Field(default=None, description="its name")
    contracts: int
    amount_fen: int = Field(description="technology transaction amount in fen")


class CrossProvince(BaseModel):
    """Technology outflow to (技术输出) and inflow from (技术吸纳) other provinces: this
    deployment's registered contracts and its partners' summaries, each contract once."""

    outflow: list[CrossProvinceRow] = Field(description="by the buyer's province")
    inflow: list[CrossProvinceRow] = Field(description="by the seller's province")


class Statistics(BaseModel):
    region: str
    name: str
    year: int
    month: int | None
    by: By
    contracts: int
    tech_amount_fen: int
    previous_year_tech_amount_fen: int
    growth_percent: float | None
    growth_target_percent: Decimal = Field(
        description="the region's own growth target of the year (its sub-platform's), else "
                    "REGISTRY_GROWTH_TARGET_PERCENT")
    target_met: bool | None
    rows: list[Row]
    target: PublicTargetProgress | None = Field(
        default=None, description="the region's own sub-platform's target and its progress "
                                  "(the year so far); null: the region has no sub-platform")
    subplatforms: list[PublicTargetProgress] = Field(
        default_factory=list, description="every sub-platform inside the region, itself "
                                          "included, against its own target")
    cross_province: CrossProvince | None = None


# -- the public views (GET /public/...): built field by field, nothing of any one contract ------
class PublicStatisticsRow(BaseModel):
    """One line of a published breakdown: a region under the queried one, a contract
    category or a flow, with its count and turnover."""

    key: str = Field(description="region code, category (transfer, development, licence, "
                                 "consulting, service) or flow (outflow, inflow, internal)")
    name: str | None = Field(description="the region's name on region rows, else null")
    contracts: int
    tech_amount_fen: int = Field(description="technology transaction amount (技术交易额)")


class PublicCrossProvinceRow(BaseModel):
    """A published cross-province line: one other province, with the count and turnover."""

    region: str = Field(description="the other province (PP0000)")
    name: str | None = Field(description="its name")
    contracts: int
    amount_fen: int = Field(description="technology transaction amount in fen")


class PublicCrossProvince(BaseModel):
    """Published outflow to and inflow from other provinces (each contract once)."""

    outflow: list[PublicCrossProvinceRow] = Field(description="by the buyer's province")
    inflow: list[PublicCrossProvinceRow] = Field(description="by the seller's province")


class PublicStatistics(BaseModel):
    """The published statistics of a region for one ended month (or ended year)."""

    region: str
    name: str
    year: int
    month: int | None = Field(description="null: the whole year")
    published_at: datetime = Field(description="when the period ended (UTC)")
    contracts: int
    tech_amount_fen: int
    previous_year_tech_amount_fen: int = Field(description="the same period a year earlier")
    growth_percent: float | None = Field(description="year on year; null without a base")
    by_region: list[PublicStatisticsRow] = Field(description="the regions directly under it")
    by_category: list[PublicStatisticsRow]
    by_flow: list[PublicStatisticsRow] = Field(
        description="technology outflow (技术输出), inflow (技术吸纳) and internal")
    target: PublicTargetProgress | None = Field(
        default=None, description="the region's own target and its progress (the year so "
                                  "far); null: the region has no sub-platform")
    subplatforms: list[PublicTargetProgress] = Field(
        default_factory=list, description="every sub-platform inside the region against its "
                                          "own target")
    cross_province: PublicCrossProvince | None = Field(
        default=None, description="outflow to and inflow from each other province")


class PublicNationalStatistics(BaseModel):
    """The national hub's published figures of one ended month (or year), from every
    province's contract summaries."""

    year: int
    month: int | None = Field(description="null: the whole year")
    published_at: datetime = Field(description="when the period ended (UTC)")
    contracts: int
    tech_amount_fen: int
    by_province: list[PublicStatisticsRow] = Field(description="by the seller's province")
    by_category: list[PublicStatisticsRow]
    by_field: list[PublicStatisticsRow] = Field(description="by technology field")


class NationalStatistics(BaseModel):
    """The national hub's figures of a month or year, the running one included."""

    year: int
    month: int | None
    contracts: int
    tech_amount_fen: int
    by_province: list[Row]
    by_category: list[Row]
    by_field: list[Row]


class MatrixCell(BaseModel):
    seller_province: str
    buyer_province: str
    contracts: int
    amount_fen: int = Field(description="technology transaction amount")


class FlowMatrix(BaseModel):
    """Province × province: the contracts of sellers of one province with buyers of another
    (the diagonal: within a province); buyers abroad are left out."""

    year: int
    month: int | None
    cells: list[MatrixCell]


PUBLIC_MODELS: tuple[type[BaseModel], ...] = (
    PublicStatistics, PublicStatisticsRow, PublicCrossProvince, PublicCrossProvinceRow,
    PublicNationalStatistics, PublicTargetProgress, PublicYearTarget, PublicSubplatform,
    PublicFees, PublicFeeSchedule, PublicFeeTier)
"""Every model the public API answers with (the allow-list test reads them)."""
