"""A technology contract at the registrar (技术合同认定登记), as one aggregate with its filings.

draft (pre-filled from a settled deal) → filed → registered (with its number) or refused
(未予登记); a refused contract, like a draft, is filed again. A contract filed outside the
exchange starts filed. An oral contract is refused as it is filed. A registered contract takes
an amendment or a cancellation: each is a filing that a registrar registers (the change
applies: new terms, or the contract leaves the statistics) or refuses (nothing changes).

At most one filing awaits a decision, due ``review`` after it was filed (the registrar's
deadline: nothing fires at it; :meth:`Filing.overdue` tells the filings past it).

Every transition returns the new contract and its events; the store writes what changed,
:func:`statistics_change` is what the rollups gain or lose and :func:`turnover_added` what the
turnover counter grows by. Pure: no I/O; the caller passes the time, and the registrar's code
and next sequence number (counters the store keeps).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.registry.domain.errors import (
    AlreadyRegistered,
    ContractState,
    FilingPending,
    NoPendingFiling,
    NotTheSeller,
    NumbersExhausted,
    SellerUnknown,
)
from services.registry.domain.numbers import SequenceExhausted, registration_number
from services.registry.domain.statistics import SHANGHAI, Delta, Facts, combine, deltas, flow
from services.registry.domain.terms import ContractForm, ContractTerms
from shared.events.base import Event
from shared.events.registry import (
    ContractAmended,
    ContractCancelled,
    ContractDrafted,
    ContractFiled,
    ContractParty,
    ContractRefused,
    ContractRegistered,
    RefusalReason,
)
from shared.events.settlement import SettlementCompleted
from shared.problems import ValidationFailed
from shared.regions import Region

__all__ = [
    "ORAL_REFUSAL",
    "Contract",
    "Filing",
    "FilingKind",
    "FilingStatus",
    "Listed",
    "Registration",
    "Status",
    "draft_terms",
    "facts_of",
    "registration_year",
    "statistics_change",
    "turnover_added",
]

ORAL_REFUSAL = RefusalReason(code="oral-contract", detail="口头合同不予登记")
REGISTRY = "registry"
"""The actor of what the service decides itself (an oral contract's refusal)."""
_SUBTYPE_BY_IP = {"patent_invention": "patent", "patent_utility": "patent",
                  "patent_design": "patent", "patent_application": "patent_application",
                  "trade_secret": "trade_secret"}


class Status(StrEnum):
    DRAFT = "draft"
    FILED = "filed"
    REGISTERED = "registered"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class FilingKind(StrEnum):
    ORIGINAL = "original"
    AMENDMENT = "amendment"
    CANCELLATION = "cancellation"


class FilingStatus(StrEnum):
    FILED = "filed"  # awaits a decision
    REGISTERED = "registered"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Filing:
    """One filing of the contract (the original, an amendment, a cancellation) and its
    decision. ``terms`` are the filed terms as stored (None for a cancellation)."""

    id: uuid.UUID
    kind: FilingKind
    region: str
    filed_by: str
    filed_at: datetime
    due_at: datetime
    terms: Mapping[str, Any] | None = None
    reason: str = ""
    status: FilingStatus = FilingStatus.FILED
    decided_by: str | None = None
    decided_at: datetime | None = None
    reasons: tuple[RefusalReason, ...] | None = None

    @property
    def pending(self) -> bool:
        return self.status is FilingStatus.FILED

    def overdue(self, at: datetime) -> bool:
        """Still awaiting a decision after its deadline."""
        return self.pending and self.due_at < at

    def decided(self, status: FilingStatus, by: str, at: datetime,
                reasons: Sequence[RefusalReason] | None = None) -> Filing:
        return replace(self, status=status, decided_by=by, decided_at=at,
                       reasons=None if reasons is None else tuple(reasons))


@dataclass(frozen=True, slots=True)
class Registration:
    number: str
    registrar_region: str
    registrar_code: int
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class Listed:
    """What this service knows of a listing (from ``ListingCreated``): a draft's subject."""

    title: str
    seller_id: str
    tech_field: str | None = None
    ip_type: str | None = None
    ip_numbers: tuple[str, ...] = ()
    holders: tuple[Mapping[str, Any], ...] = ()


ContractEvents = list[Event]


def _dump(terms: ContractTerms) -> dict[str, Any]:
    return terms.model_dump(mode="json")


def registration_year(at: datetime) -> int:
    """The year a registration at ``at`` is numbered and counted in (Asia/Shanghai)."""
    return at.astimezone(SHANGHAI).year


def facts_of(terms: ContractTerms, year: int, month: int) -> Facts:
    """How a registered contract with these terms counts in the statistics."""
    return Facts(
        seller_region=str(terms.seller.region), buyer_region=terms.buyer.region, year=year,
        month=month, category=terms.category.value, tech_field=terms.tech_field,
        entity_type=terms.seller.entity_type.value,
        ip_type=terms.ip.ip_type if terms.ip else "none", cross_border=terms.cross_border,
        tech_amount_fen=terms.tech_amount_fen)


def draft_terms(deal: SettlementCompleted, listing: Listed | None,
                seller_id: str, buyer_region: str | None = None) -> dict[str, Any]:
    """What the seller's draft is pre-filled with: the deal's figures and the listing's
    subject, and the buyer's region when known (a partner deployment's buyer: the partner's
    province). The seller completes the rest (the buyer's region, dates, category rules)."""
    holders = listing.holders if listing else ()
    seller: dict[str, Any] = {"role": "seller", "party_id": seller_id, "country": "CN",
                              "region": deal.region,
                              "name": holders[0]["name"] if holders else seller_id,
                              "entity_type": holders[0]["kind"] if holders else "other"}
    buyer: dict[str, Any] = {"role": "buyer", "party_id": deal.buyer_id,
                             "name": deal.buyer_id or "", "country": "CN"}
    if buyer_region is not None:
        buyer["region"] = buyer_region
    amount = deal.price_fen or deal.received_fen
    terms: dict[str, Any] = {"category": "transfer", "parties": [seller, buyer],
                             "total_amount_fen": amount, "tech_amount_fen": amount}
    if deal.concluded_at is not None:
        terms["signed_on"] = deal.concluded_at.astimezone(SHANGHAI).date().isoformat()
    if listing is not None:
        terms |= {"project_name": listing.title, "tech_field": listing.tech_field}
        if listing.ip_type:
            terms["ip"] = {"ip_type": listing.ip_type, "name": listing.title,
                           "numbers": list(listing.ip_numbers)}
            if listing.ip_type in _SUBTYPE_BY_IP:
                terms["subtype"] = _SUBTYPE_BY_IP[listing.ip_type]
    return terms


@dataclass(frozen=True, slots=True)
class Contract:
    """``terms`` are the contract's terms as stored (JSON): complete once it is filed, a
    draft's may lack members until the seller completes them. ``facts`` are set when it is
    registered and kept when it is cancelled; ``filings`` in the order they were filed."""

    id: uuid.UUID
    seller_id: str
    region: str
    status: Status
    terms: Mapping[str, Any]
    created_at: datetime
    deal_id: uuid.UUID | None = None
    listing_id: uuid.UUID | None = None
    registration: Registration | None = None
    facts: Facts | None = None
    filings: tuple[Filing, ...] = ()

    # -- reading ----------------------------------------------------------------------------
    @property
    def pending(self) -> Filing | None:
        """The filing awaiting a decision, if any."""
        return next((f for f in self.filings if f.pending), None)

    @property
    def counted(self) -> Facts | None:
        """The facts the statistics count it with: a registered contract's."""
        return self.facts if self.status is Status.REGISTERED else None

    @property
    def takes_number(self) -> bool:
        """Its pending filing is the original: registering it draws a registration number."""
        pending = self.pending
        return (pending is not None and pending.kind is FilingKind.ORIGINAL
                and self.registration is None)

    def current_terms(self) -> ContractTerms:
        return ContractTerms.model_validate(dict(self.terms))

    def terms_with(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """The stored terms with top-level members replaced (to be checked as a whole)."""
        return {**self.terms, **changes}

    def check_seller(self, subject: str) -> None:
        if subject != self.seller_id:
            raise NotTheSeller(f"Contract {self.id} is filed by its seller {self.seller_id}.")

    def check_amendment(self, terms: ContractTerms) -> None:
        """An amendment keeps the seller's region (the contract counts there)."""
        if str(terms.seller.region) != self.region:
            raise ValidationFailed("An amendment keeps the seller's region.", errors=[
                {"field": "body.parties", "message": f"the seller stays in {self.region}"}])

    # -- drafting and filing ----------------------------------------------------------------
    @classmethod
    def draft(cls, deal: SettlementCompleted, listing: Listed | None, *,
              contract_id: uuid.UUID | None = None, buyer_region: str | None = None
              ) -> tuple[Contract, ContractDrafted]:
        """A settled deal's contract, pre-filled for its seller (the deal's, else the
        listing's) to complete and file; ``buyer_region``: see :func:`draft_terms`."""
        seller_id = deal.seller_id or (listing.seller_id if listing else None)
        if seller_id is None:
            raise SellerUnknown(
                f"deal {deal.deal_id} names no seller and its listing is unknown")
        contract = cls(contract_id or uuid.uuid4(), seller_id, deal.region, Status.DRAFT,
                       draft_terms(deal, listing, seller_id, buyer_region), deal.completed_at,
                       deal_id=deal.deal_id, listing_id=deal.listing_id)
        return contract, ContractDrafted(
            contract_id=contract.id, region=deal.region, actor="settlement",
            deal_id=deal.deal_id, listing_id=deal.listing_id, seller_id=seller_id,
            drafted_at=deal.completed_at)

    @classmethod
    def file(cls, terms: ContractTerms, *, seller_id: str, now: datetime, review: timedelta,
             contract_id: uuid.UUID | None = None, filing_id: uuid.UUID | None = None
             ) -> tuple[Contract, ContractEvents]:
        """A contract signed outside the exchange (no deal), filed by its seller."""
        contract = cls(contract_id or uuid.uuid4(), seller_id, str(terms.seller.region),
                       Status.FILED, _dump(terms), now)
        return contract._file_original(terms, seller_id, now, review, filing_id)

    def submit(self, terms: ContractTerms, *, by: str, now: datetime, review: timedelta,
               filing_id: uuid.UUID | None = None) -> tuple[Contract, ContractEvents]:
        """File a draft, or a refused contract again, with these (completed) terms."""
        self.check_seller(by)
        if self.status not in (Status.DRAFT, Status.REFUSED):
            raise ContractState(f"Contract {self.id} is {self.status}; only a draft or a "
                                "refused contract is filed again.",
                                status_now=self.status.value)
        filed = replace(self, status=Status.FILED, terms=_dump(terms),
                        region=str(terms.seller.region))
        return filed._file_original(terms, by, now, review, filing_id)

    def amend(self, terms: ContractTerms, *, by: str, now: datetime, review: timedelta,
              filing_id: uuid.UUID | None = None) -> tuple[Contract, ContractEvents]:
        """File an amendment of the registered contract: ``terms`` apply once registered."""
        self.check_seller(by)
        self.check_amendment(terms)
        self._require_registered(FilingKind.AMENDMENT)
        return self._file(FilingKind.AMENDMENT, terms, terms, "", by, now, review, filing_id)

    def cancel(self, reason: str, *, by: str, now: datetime, review: timedelta,
               filing_id: uuid.UUID | None = None) -> tuple[Contract, ContractEvents]:
        """File the cancellation of the registered contract."""
        self.check_seller(by)
        self._require_registered(FilingKind.CANCELLATION)
        return self._file(FilingKind.CANCELLATION, None, self.current_terms(), reason, by,
                          now, review, filing_id)

    def _require_registered(self, kind: FilingKind) -> None:
        if self.status is not Status.REGISTERED:
            raise ContractState(f"Contract {self.id} is {self.status}; only a registered "
                                f"contract takes an {kind}.", status_now=self.status.value)

    def _file_original(self, terms: ContractTerms, by: str, now: datetime, review: timedelta,
                       filing_id: uuid.UUID | None) -> tuple[Contract, ContractEvents]:
        contract, events = self._file(FilingKind.ORIGINAL, terms, terms, "", by, now, review,
                                      filing_id)
        if terms.form is ContractForm.ORAL:
            contract, refused = contract._refuse([ORAL_REFUSAL], REGISTRY, now)
            events.append(refused)
        return contract, events

    def _file(self, kind: FilingKind, terms: ContractTerms | None, shown: ContractTerms,
              reason: str, by: str, now: datetime, review: timedelta,
              filing_id: uuid.UUID | None) -> tuple[Contract, ContractEvents]:
        if self.pending is not None:
            raise FilingPending(f"Contract {self.id} has a filing awaiting a decision.")
        due = now + review
        filing = Filing(filing_id or uuid.uuid4(), kind, self.region, by, now, due,
                        terms=None if terms is None else _dump(terms), reason=reason)
        return replace(self, filings=(*self.filings, filing)), [ContractFiled(
            contract_id=self.id, region=self.region, actor=by, filing_id=filing.id,
            kind=kind.value, category=shown.category.value, subtype=shown.subtype,
            total_amount_fen=shown.total_amount_fen, tech_amount_fen=shown.tech_amount_fen,
            filed_at=now, due_at=due)]

    # -- review -----------------------------------------------------------------------------
    def awaiting_decision(self) -> Filing:
        """The filing a registrar decides now; refused when there is none."""
        pending = self.pending
        if pending is not None:
            return pending
        if self.status is Status.REGISTERED and self.registration is not None:
            number = self.registration.number
            raise AlreadyRegistered(f"Contract {self.id} is registered as {number}; nothing "
                                    "awaits a decision.", registration_number=number)
        raise NoPendingFiling(f"No filing of contract {self.id} awaits a decision.",
                              status_now=self.status.value)

    def register(self, *, by: str, registrar_region: str, now: datetime,
                 registrar_code: int | None = None, sequence: int | None = None
                 ) -> tuple[Contract, ContractEvents]:
        """Register the pending filing: the original (numbered with the registrar's code and
        its next ``sequence`` of :func:`registration_year`; no code = the region has no
        registrar codes left), an amendment (its terms apply) or a cancellation."""
        filing = self.awaiting_decision()
        decided = self._decided(filing.decided(FilingStatus.REGISTERED, by, now))
        if filing.kind is FilingKind.ORIGINAL:
            return decided._numbered(registrar_region, registrar_code, sequence, now)
        assert self.registration is not None and self.facts is not None, "a registered contract"
        number = self.registration.number
        if filing.kind is FilingKind.AMENDMENT:
            assert filing.terms is not None, "an amendment files its terms"
            before = _dump(self.current_terms())
            terms = ContractTerms.model_validate(dict(filing.terms))
            after = _dump(terms)
            amended = replace(decided, terms=after,
                              facts=facts_of(terms, self.facts.year, self.facts.month))
            return amended, [ContractAmended(
                contract_id=self.id, region=self.region, actor=by, filing_id=filing.id,
                registration_number=number,
                changed=sorted(k for k, v in after.items() if before.get(k) != v),
                total_amount_fen=terms.total_amount_fen, tech_amount_fen=terms.tech_amount_fen,
                amended_at=now)]
        return replace(decided, status=Status.CANCELLED), [ContractCancelled(
            contract_id=self.id, region=self.region, actor=by, filing_id=filing.id,
            registration_number=number, reason=filing.reason, cancelled_at=now)]

    def _numbered(self, registrar_region: str, code: int | None, sequence: int | None,
                  now: datetime) -> tuple[Contract, ContractEvents]:
        if self.registration is not None:
            raise AlreadyRegistered(f"Contract {self.id} is registered already.")
        if code is None:
            raise NumbersExhausted(f"Region {registrar_region} has 99 registrars already.")
        assert sequence is not None, "a registrar's code comes with its next sequence number"
        local = now.astimezone(SHANGHAI)
        try:
            number = registration_number(local.year, registrar_region, code, sequence)
        except SequenceExhausted as exc:
            raise NumbersExhausted(str(exc)) from exc
        terms = self.current_terms()
        facts = facts_of(terms, local.year, local.month)
        registration = Registration(number, registrar_region, code, now)
        registered = replace(self, status=Status.REGISTERED, facts=facts,
                             registration=registration)
        return registered, [registered._registered_event(terms, facts)]

    def _registered_event(self, terms: ContractTerms, facts: Facts) -> ContractRegistered:
        """The registration as consumers read it: the figures, the parties' regions and the
        flow, so none of them needs the filing or an earlier event."""
        assert self.registration is not None
        reg = self.registration
        return ContractRegistered(
            contract_id=self.id, deal_id=self.deal_id, listing_id=self.listing_id,
            region=self.region, registration_number=reg.number,
            registered_at=reg.registered_at, registrar_region=reg.registrar_region,
            category=facts.category, subtype=terms.subtype, tech_field=facts.tech_field,
            ip_type=facts.ip_type, total_amount_fen=terms.total_amount_fen,
            tech_amount_fen=terms.tech_amount_fen, signed_on=terms.signed_on,
            valid_from=terms.valid_from, valid_until=terms.valid_until,
            parties=[ContractParty(role=p.role.value, country=p.country,
                                   region=None if p.region is None else str(p.region),
                                   entity_type=p.entity_type.value) for p in terms.parties],
            buyer_region=facts.buyer_region, crosses_province=_crosses_province(facts),
            cross_border=facts.cross_border, flow=flow(facts.seller_region, facts.buyer_region))

    def refuse(self, reasons: Sequence[RefusalReason], *, by: str, now: datetime
               ) -> tuple[Contract, ContractEvents]:
        """Refuse the pending filing with reasons (未予登记); a refused amendment or
        cancellation leaves the registered contract as it was."""
        refused, event = self._refuse(reasons, by, now)
        return refused, [event]

    def _refuse(self, reasons: Sequence[RefusalReason], by: str, now: datetime
                ) -> tuple[Contract, ContractRefused]:
        filing = self.awaiting_decision()
        refused = self._decided(filing.decided(FilingStatus.REFUSED, by, now, reasons))
        if filing.kind is FilingKind.ORIGINAL:
            refused = replace(refused, status=Status.REFUSED)
        return refused, ContractRefused(
            contract_id=self.id, region=self.region, actor=by, filing_id=filing.id,
            kind=filing.kind.value, reasons=list(reasons), refused_at=now)

    def _decided(self, filing: Filing) -> Contract:
        return replace(self, filings=tuple(filing if f.id == filing.id else f
                                           for f in self.filings))


def _crosses_province(facts: Facts) -> bool:
    """The buyer is in another province than the seller, or abroad."""
    if facts.buyer_region is None:
        return True
    return Region.parse(facts.buyer_region).province != Region.parse(facts.seller_region).province


def statistics_change(before: Contract | None, after: Contract) -> list[Delta]:
    """The rollup rows a transition changes: what ``before`` counted taken away, what
    ``after`` counts added, netted (a registration adds, a cancellation takes away, an
    amendment moves the difference, anything else changes nothing)."""
    groups = []
    if before is not None and before.counted is not None:
        groups.append(deltas(before.counted, -1))
    if after.counted is not None:
        groups.append(deltas(after.counted))
    return combine(*groups)


def turnover_added(before: Contract | None, after: Contract) -> tuple[Facts, int] | None:
    """What a transition adds to the registered turnover (a counter: it only grows): a
    registration its amount, an amendment that raises the amount the difference."""
    if after.counted is None:
        return None
    if before is None or before.counted is None:
        return after.counted, after.counted.tech_amount_fen
    grown = after.counted.tech_amount_fen - before.counted.tech_amount_fen
    return (after.counted, grown) if grown > 0 else None
