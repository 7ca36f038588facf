"""Technology demands (技术需求) and their open calls (揭榜比拼 / 技术难题招标).

open → awarded (the enterprise picked a proposal) or closed (withdrawn, past its deadline).
Proposals are accepted while the demand is open and before its deadline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.listing.domain.errors import DemandProblem, NotTheOwner
from services.listing.domain.fields import TechField
from shared.events.listing import DemandAwarded, DemandClosed, DemandPosted, ProposalSubmitted


class DemandStatus(StrEnum):
    OPEN = "open"
    AWARDED = "awarded"
    CLOSED = "closed"


class CallMode(StrEnum):
    OPEN_CALL = "open_call"  # 揭榜比拼
    TENDER = "tender"        # 技术难题招标


@dataclass(frozen=True)
class Demand:
    id: uuid.UUID
    enterprise_id: str
    region: str
    title: str
    description: str
    field: TechField
    keywords: tuple[str, ...]
    mode: CallMode
    budget_fen: int | None
    min_trl: int
    deadline: datetime
    status: DemandStatus
    created_at: datetime
    awarded_proposal: uuid.UUID | None = None

    @classmethod
    def post(cls, *, enterprise_id: str, region: str, title: str, description: str,
             field: TechField, keywords: tuple[str, ...], mode: CallMode,
             budget_fen: int | None, min_trl: int, deadline: datetime, now: datetime
             ) -> tuple[Demand, DemandPosted]:
        if deadline <= now:
            raise DemandProblem(detail="The deadline must lie in the future.", status=422,
                                slug="demand-deadline-past", title="Deadline in the past")
        d = cls(id=uuid.uuid4(), enterprise_id=enterprise_id, region=region, title=title,
                description=description, field=field, keywords=keywords, mode=mode,
                budget_fen=budget_fen, min_trl=min_trl, deadline=deadline,
                status=DemandStatus.OPEN, created_at=now)
        return d, DemandPosted(demand_id=d.id, region=region, occurred_at=now,
                               actor=enterprise_id, enterprise_id=enterprise_id, title=title,
                               field=field.value, mode=mode.value, budget_fen=budget_fen,
                               min_trl=min_trl, deadline=deadline)

    def accept_proposal(self, *, provider_id: str, listing_id: uuid.UUID | None,
                        price_fen: int | None, now: datetime
                        ) -> tuple[uuid.UUID, ProposalSubmitted]:
        if self.status is not DemandStatus.OPEN or now >= self.deadline:
            raise DemandProblem(detail="The demand no longer takes proposals.")
        if provider_id == self.enterprise_id:
            raise DemandProblem(detail="An enterprise cannot answer its own demand.",
                                status=422, slug="demand-own-proposal",
                                title="Own demand")
        proposal_id = uuid.uuid4()
        return proposal_id, ProposalSubmitted(
            demand_id=self.id, region=self.region, occurred_at=now, actor=provider_id,
            proposal_id=proposal_id, provider_id=provider_id, listing_id=listing_id,
            price_fen=price_fen)

    def award(self, *, proposal_id: uuid.UUID, provider_id: str, actor: str, now: datetime
              ) -> tuple[Demand, DemandAwarded]:
        self._own(actor)
        if self.status is not DemandStatus.OPEN:
            raise DemandProblem(detail=f"The demand is {self.status.value}.")
        return (replace(self, status=DemandStatus.AWARDED, awarded_proposal=proposal_id),
                DemandAwarded(demand_id=self.id, region=self.region, occurred_at=now,
                              actor=actor, proposal_id=proposal_id, provider_id=provider_id))

    def close(self, *, reason: str, actor: str, now: datetime) -> tuple[Demand, DemandClosed]:
        if reason == "withdrawn":
            self._own(actor)
        if self.status is not DemandStatus.OPEN:
            raise DemandProblem(detail=f"The demand is {self.status.value}.")
        return (replace(self, status=DemandStatus.CLOSED),
                DemandClosed(demand_id=self.id, region=self.region, occurred_at=now,
                             actor=actor, reason=reason))

    def _own(self, actor: str) -> None:
        if actor != self.enterprise_id:
            raise NotTheOwner(detail="Only the enterprise that posted the demand may do that.")
