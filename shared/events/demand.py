"""Events of the demand aggregate: an enterprise's technology demand (技术需求) and its open
call (揭榜比拼 / 技术难题招标)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from shared.events.base import Event, register

__all__ = ["DemandAwarded", "DemandClosed", "DemandPosted", "ProposalSubmitted"]

_DEMAND = "7d3e2f10-4b5c-4a6d-9e8f-0a1b2c3d4e5f"
_PROPOSAL = "8e4f3a21-5c6d-4b7e-8f90-1b2c3d4e5f60"
_AT = "2026-05-06T03:00:00Z"


def _example(**extra: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [
        {"demand_id": _DEMAND, "region": "130102", "occurred_at": _AT, **extra}]})


class _DemandEvent(Event):
    aggregate: ClassVar[str] = "demand"
    subject_field: ClassVar[str] = "demand_id"

    demand_id: UUID
    region: str = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code")
    occurred_at: AwareDatetime
    actor: str = ""


@register
class DemandPosted(_DemandEvent):
    """An enterprise posted a technology demand with an open call for solutions."""

    name: ClassVar[str] = "posted"
    model_config = _example(
        enterprise_id="jizhong-steel", title="高炉煤气深度脱硫技术", field="environment",
        mode="open_call", budget_fen=300000000, min_trl=5, deadline="2026-08-31T15:59:59Z")

    enterprise_id: str
    title: str
    field: str
    mode: Literal["open_call", "tender"]
    budget_fen: int | None = Field(default=None, ge=0)
    min_trl: int = Field(default=1, ge=1, le=9)
    deadline: AwareDatetime


@register
class ProposalSubmitted(_DemandEvent):
    """A provider answered the demand's open call (揭榜) with a proposal."""

    name: ClassVar[str] = "proposal_submitted"
    model_config = _example(proposal_id=_PROPOSAL, provider_id="hebei-university-of-technology",
                            listing_id=None, price_fen=250000000)

    proposal_id: UUID
    provider_id: str
    listing_id: UUID | None = None
    price_fen: int | None = Field(default=None, ge=0)


@register
class DemandAwarded(_DemandEvent):
    """The enterprise picked a proposal (揭榜成功)."""

    name: ClassVar[str] = "awarded"
    model_config = _example(proposal_id=_PROPOSAL, provider_id="hebei-university-of-technology")

    proposal_id: UUID
    provider_id: str


@register
class DemandClosed(_DemandEvent):
    """The demand was closed without an award (withdrawn or past its deadline)."""

    name: ClassVar[str] = "closed"
    model_config = _example(reason="deadline")

    reason: Literal["withdrawn", "deadline"]
