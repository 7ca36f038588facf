"""The public summary a registry transition tells partners and the national hub (pure).

A contract's ``revision`` is the number of its registered filings: 1 once the original is
registered, one more for each registered amendment and for the cancellation. A transition that
raises it publishes the summary of the contract as it now is (see
:mod:`shared.events.public.contracts`); nothing else does.
"""

from __future__ import annotations

from services.registry.domain.contract import Contract, FilingKind, FilingStatus, Status
from services.registry.domain.statistics import SHANGHAI
from shared.events.public.contracts import (
    ContractSummary,
    PublicContractAmended,
    PublicContractCancelled,
    PublicContractRegistered,
    contract_key,
    province_flow,
    province_of,
)

__all__ = ["revision", "summary_of"]


def revision(contract: Contract | None) -> int:
    """How many of the contract's filings are registered (0: not registered yet)."""
    if contract is None:
        return 0
    return sum(1 for f in contract.filings if f.status is FilingStatus.REGISTERED)


def summary_of(before: Contract | None, after: Contract, origin: str | None = None
               ) -> ContractSummary | None:
    """The public summary ``after`` publishes (None when the transition registered nothing).
    ``origin`` is the deployment's region (by default the seller's province)."""
    number = revision(after)
    if number <= revision(before) or after.registration is None or after.facts is None:
        return None
    reg, facts = after.registration, after.facts
    # the filing this transition registered (the loaded filings' order is not reliable,
    # and one clock instant can file and decide several)
    known = set() if before is None else {
        f.id for f in before.filings if f.status is FilingStatus.REGISTERED}
    decided = next(f for f in after.filings
                   if f.status is FilingStatus.REGISTERED and f.id not in known)
    at = decided.decided_at or reg.registered_at
    origin = origin or province_of(after.region) or after.region
    fields = {
        "contract_key": contract_key(origin, reg.number), "origin": origin,
        "registration_number": reg.number, "revision": number, "region": after.region,
        "seller_region": facts.seller_region, "buyer_region": facts.buyer_region,
        "cross_border": facts.cross_border,
        "registered_on": reg.registered_at.astimezone(SHANGHAI).date(),
        "category": facts.category, "tech_field": facts.tech_field,
        "total_amount_fen": int(after.terms.get("total_amount_fen") or facts.tech_amount_fen),
        "tech_amount_fen": facts.tech_amount_fen,
        "flow": province_flow(facts.seller_region, facts.buyer_region)}
    if after.status is Status.CANCELLED:
        return PublicContractCancelled(**fields, cancelled_at=at)
    if decided.kind is FilingKind.AMENDMENT:
        return PublicContractAmended(**fields, amended_at=at)
    return PublicContractRegistered(**fields, registered_at=at)
