"""Provincial subsidies (补助) for technology deals, configured as data.

A :class:`SubsidyPolicy` is read from a JSON file under ``services/settlement/policies/`` by the
service layer and validated here with :func:`parse_policy` (this module does no I/O).
Heilongjiang (黑发〔2016〕23号), as the shipped ``heilongjiang-2026.json`` encodes it:

* a buyer enterprise whose **received amount** (实际到账金额) is ≥ ¥500,000 gets 30 % of it,
  capped at ¥1,000,000; a seller trading inside the province gets the same;
* for one project in one year only one side is supported. **The first side granted wins**: an
  assessment that granted nothing (e.g. below the threshold) does not block the other side, and
  once a side is granted, any later assessment of that project and year — either side — gets 0;
* up to 10 % of an enterprise's subsidy may reward its transfer commissioner (技术转移专员);
  the share is *part of* the subsidy, not on top of it.

Rounding: ``received × rate`` is rounded half-up to the fen, then capped; the commissioner share
is ``amount × share`` rounded half-up to the fen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.settlement.domain.errors import InvalidPolicy, PolicyNotApplicable
from services.settlement.domain.money import apply_rate, require_fen
from shared.problems import field_errors

Fen = Annotated[int, Field(strict=True, ge=0)]
Rate = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]


class Side(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"


class SubsidyPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_id: str = Field(min_length=1)
    province: str = Field(min_length=1)
    region_code: str = Field(pattern=r"^\d{6}$")  # GB/T 2260
    document: str = Field(min_length=1)
    configuration_example: bool  # true: plausible numbers, not the province's published rule
    note: str = ""
    years: tuple[Annotated[int, Field(strict=True, ge=2000, le=2100)], ...] = Field(min_length=1)
    eligible_sides: frozenset[Side] = Field(min_length=1)
    seller_must_trade_in_province: bool
    threshold_fen: Fen  # received amount at or above which the subsidy applies
    rate: Rate
    cap_fen: Fen | None  # None: uncapped
    one_side_per_project_per_year: bool
    commissioner_share_max: Rate

    @model_validator(mode="after")
    def _years_unique(self) -> SubsidyPolicy:
        if len(set(self.years)) != len(self.years):
            raise ValueError("years repeat")
        return self


def parse_policy(raw: str | bytes | dict[str, Any]) -> SubsidyPolicy:
    """Validate a policy given as JSON text or a decoded mapping; :class:`InvalidPolicy`."""
    try:
        if isinstance(raw, str | bytes):
            return SubsidyPolicy.model_validate_json(raw)
        return SubsidyPolicy.model_validate(raw)
    except ValidationError as e:
        raise InvalidPolicy(
            detail="The subsidy policy is not valid.",
            errors=field_errors(e.errors()),
        ) from None


@dataclass(frozen=True)
class Assessment:
    policy_id: str
    project_id: str
    year: int
    side: Side
    received_fen: int
    amount_fen: int
    commissioner_share_fen: int  # the most that may go to the transfer commissioner
    reasons: tuple[str, ...]

    @property
    def granted(self) -> bool:
        return self.amount_fen > 0


def assess(
    policy: SubsidyPolicy,
    received_fen: int,
    side: Side | str,
    project_id: str,
    year: int,
    already_assessed: Iterable[Assessment] = (),
    *,
    seller_in_province: bool = True,
    enterprise: bool = True,
) -> Assessment:
    """The subsidy for one side of one project in ``year``, given earlier assessments."""
    require_fen(received_fen, "received_fen")
    side = Side(side)
    if year not in policy.years:
        raise PolicyNotApplicable(
            detail=f"Policy {policy.policy_id} covers {list(policy.years)}, not {year}.",
            policy_id=policy.policy_id, year=year)

    def none(*reasons: str) -> Assessment:
        return Assessment(policy.policy_id, project_id, year, side, received_fen, 0, 0, reasons)

    if side not in policy.eligible_sides:
        return none(f"{side.value} is not supported by {policy.policy_id}")
    if side is Side.SELLER and policy.seller_must_trade_in_province and not seller_in_province:
        return none("the seller is supported only when trading inside the province")
    earlier = [a for a in already_assessed
               if a.granted and a.project_id == project_id and a.year == year
               and a.policy_id == policy.policy_id]
    if any(a.side is side for a in earlier):
        return none(f"the {side.value} of project {project_id} was already supported in {year}")
    if policy.one_side_per_project_per_year and earlier:
        return none(f"only one side per project per year: the {earlier[0].side.value} of "
                    f"project {project_id} was supported first in {year}")
    if received_fen < policy.threshold_fen:
        return none(f"received {received_fen} fen is below the threshold of "
                    f"{policy.threshold_fen} fen")

    reasons = [f"{(policy.rate * 100).normalize():f} % of received {received_fen} fen"]
    amount = apply_rate(received_fen, policy.rate)  # rounded half-up to the fen
    if policy.cap_fen is not None and amount > policy.cap_fen:
        reasons.append(f"capped at {policy.cap_fen} fen")
        amount = policy.cap_fen
    if enterprise:
        commissioner = apply_rate(amount, policy.commissioner_share_max)  # half-up to the fen
        if commissioner:
            reasons.append(f"up to {commissioner} fen of it may reward the transfer commissioner")
    else:
        commissioner = 0
    return Assessment(policy.policy_id, project_id, year, side, received_fen, amount,
                      commissioner, tuple(reasons))
