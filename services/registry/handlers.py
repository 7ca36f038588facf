"""Every command of the registry and its reactions to other services' events.

A command (file, submit, amend, cancel, register, refuse) runs in the route's transaction
(:class:`~shared.context.Command`): the contract is loaded with its row locked, the
:class:`~services.registry.domain.contract.Contract` decides, and what changed, the rollups
and the published events are written in that transaction. An event reaction gets the
consumer's :class:`~shared.context.Tx` the same way.

The checks of the request itself — its terms, and whether the caller is the contract's seller
in its region — run before the command's transaction (``*_terms``, :func:`own_contract`),
so a keyed request does not store their refusals (see :mod:`shared.idempotency`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from pydantic import ValidationError

from services.registry.config import RegistrySettings
from services.registry.domain.contract import (
    Contract,
    registration_year,
    statistics_change,
    turnover_added,
)
from services.registry.domain.statistics import Facts
from services.registry.domain.summaries import summary_of
from services.registry.domain.terms import ContractTerms, problems_of
from services.registry.store import contracts as store
from services.registry.store import listings, rollups, summaries
from shared.auth import Principal, authorize_region, partner_of
from shared.context import Command, Tx
from shared.events.base import Event
from shared.events.listing import ListingCreated
from shared.events.public.contracts import ContractSummary, contract_key, province_of
from shared.events.registry import RefusalReason
from shared.events.settlement import SettlementCompleted
from shared.federation import NATIONAL_REGION
from shared.problems import ValidationFailed, field_errors, not_found
from shared.settings import CommonSettings
from shared.subplatforms import Subplatforms

Turnover = tuple[Facts, int]
"""What a registration adds to the registered turnover: the contract's facts and the amount."""


ReviewPeriod = Callable[[str], timedelta]
"""A contract's region -> how long a registrar has to decide its filing."""


def review_period(settings: RegistrySettings,
                  subplatforms: Subplatforms | None = None) -> ReviewPeriod:
    """How long a registrar has to decide a filing of a region: the review deadline of the
    sub-platform covering it (calendar days), or ``review_days`` without sub-platforms."""
    if subplatforms is None:
        fixed = timedelta(days=settings.review_days)
        return lambda region: fixed
    return lambda region: timedelta(days=subplatforms.review_days(region))


# -- the checks of the request, before the command's transaction --------------------------------
def parse_terms(data: dict[str, Any]) -> ContractTerms:
    """Terms checked for types and formats, then for the category's rules; a 422 with every
    field error otherwise."""
    try:
        terms = ContractTerms.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("The contract terms are invalid.", errors=field_errors(
            exc.errors(include_url=False, include_input=False), prefix=("body",))) from exc
    errors = problems_of(terms)
    if errors:
        raise ValidationFailed("The contract does not meet its category's rules.", errors=errors)
    return terms


def filing_terms(principal: Principal, data: dict[str, Any]) -> ContractTerms:
    """The terms of a contract filed outside the exchange, at a registrar of the seller's
    region (which must be the principal's)."""
    terms = parse_terms(data)
    authorize_region(principal, str(terms.seller.region))
    return terms


async def submission_terms(db: asyncpg.Pool, principal: Principal, contract_id: uuid.UUID,
                           changes: dict[str, Any]) -> ContractTerms:
    """The draft's (or refused contract's) terms with the seller's changes, checked."""
    contract = await _load(db, contract_id)
    contract.check_seller(principal.subject)
    return filing_terms(principal, contract.terms_with(changes))


async def amendment_terms(db: asyncpg.Pool, principal: Principal, contract_id: uuid.UUID,
                          changes: dict[str, Any]) -> ContractTerms:
    """The registered contract's terms with the seller's changes, checked (the seller's region
    may not change)."""
    contract = await own_contract(db, principal, contract_id)
    terms = parse_terms(contract.terms_with(changes))
    contract.check_amendment(terms)
    return terms


async def own_contract(db: asyncpg.Pool, principal: Principal, contract_id: uuid.UUID
                      ) -> Contract:
    """The contract, if the principal is its seller in its region."""
    contract = await _load(db, contract_id)
    contract.check_seller(principal.subject)
    authorize_region(principal, contract.region)
    return contract


# -- commands ----------------------------------------------------------------------------------
async def file_contract(tx: Command, principal: Principal, terms: ContractTerms, *,
                        review: ReviewPeriod) -> Contract:
    """File a contract signed outside the exchange (no deal); oral contracts are refused."""
    now = tx.now()
    contract, events = Contract.file(terms, seller_id=principal.subject, now=now,
                                     review=review(str(terms.seller.region)))
    await _save(tx, None, contract, events, now)
    return contract


async def submit(tx: Command, principal: Principal, contract_id: uuid.UUID,
                 terms: ContractTerms, *, review: ReviewPeriod) -> Contract:
    """File a draft (or re-file a refused contract) with these terms."""
    before = await _load(tx.conn, contract_id, lock=True)
    now = tx.now()
    after, events = before.submit(terms, by=principal.subject, now=now,
                                  review=review(str(terms.seller.region)))
    await _save(tx, before, after, events, now)
    return after


async def amend(tx: Command, principal: Principal, contract_id: uuid.UUID,
                terms: ContractTerms, *, review: ReviewPeriod) -> Contract:
    """File an amendment of a registered contract; it applies once a registrar registers it."""
    before = await _load(tx.conn, contract_id, lock=True)
    now = tx.now()
    after, events = before.amend(terms, by=principal.subject, now=now,
                                 review=review(before.region))
    await _save(tx, before, after, events, now)
    return after


async def cancel(tx: Command, principal: Principal, contract_id: uuid.UUID, reason: str, *,
                 review: ReviewPeriod) -> Contract:
    """File the cancellation of a registered contract."""
    before = await _load(tx.conn, contract_id, lock=True)
    now = tx.now()
    after, events = before.cancel(reason, by=principal.subject, now=now,
                                  review=review(before.region))
    await _save(tx, before, after, events, now)
    return after


async def register(tx: Command, principal: Principal, contract_id: uuid.UUID, *,
                   origin: str | None = None) -> tuple[Contract, Turnover | None]:
    """Register the pending filing: the original (a number), an amendment or a cancellation.
    Returns the contract and what the registration adds to the turnover counter, which the
    caller counts once the transaction has committed. Its public summary (see
    :func:`publish_summary`) goes out with it; ``origin`` is the deployment's region."""
    registrar_region = str(principal.region)
    before = await _decidable(tx, principal, contract_id)
    now = tx.now()
    code = sequence = None
    if before.takes_number:
        code = await store.registrar_code(tx.conn, registrar_region, principal.subject)
        if code is not None:
            sequence = await store.next_sequence(
                tx.conn, registration_year(now), registrar_region, code)
    after, events = before.register(by=principal.subject, registrar_region=registrar_region,
                                    now=now, registrar_code=code, sequence=sequence)
    await _save(tx, before, after, events, now)
    await publish_summary(tx, before, after, origin)
    return after, turnover_added(before, after)


async def refuse(tx: Command, principal: Principal, contract_id: uuid.UUID,
                 reasons: list[RefusalReason]) -> Contract:
    """Refuse the pending filing with reasons (未予登记); a refused amendment or cancellation
    leaves the registered contract as it was."""
    before = await _decidable(tx, principal, contract_id)
    now = tx.now()
    after, events = before.refuse(reasons, by=principal.subject, now=now)
    await _save(tx, before, after, events, now)
    return after


# -- event reactions ---------------------------------------------------------------------------
def partner_regions(common: CommonSettings) -> dict[str, str]:
    """The partners' provinces by alias (the national hub, of no province, left out)."""
    federation = common.federation
    return {p.alias: p.region for p in (federation.partners if federation else ())
            if p.region != NATIONAL_REGION}


async def on_listing_created(tx: Tx, event: ListingCreated) -> None:
    await listings.record_listing(tx.conn, event)


async def on_settlement_completed(tx: Tx, event: SettlementCompleted,
                                  partners: Mapping[str, str] | None = None) -> None:
    """A pre-filled draft for the seller, once per deal (the deal id is the natural key).
    ``partners`` (alias -> province, :func:`partner_regions`): a buyer of a partner's
    (``hebei:jizhong-steel``) is of that province, so the deal counts across provinces."""
    listing = await listings.listing_for_draft(tx.conn, event.listing_id)
    alias = partner_of(event.buyer_id or "", partners or {})
    contract, drafted = Contract.draft(event, listing,
                                       buyer_region=partners[alias] if alias else None)
    if await store.save_contract(tx.conn, None, contract, event.completed_at):
        tx.publish(drafted)


async def on_contract_summary(tx: Tx, event: ContractSummary) -> None:
    """A partner's contract summary (registered, amended or cancelled), kept at its latest
    revision under the contract's key: the same contract through two partners, or twice,
    counts once. A summary whose key is not its origin and number, or whose origin is not
    the seller's province, is refused (the consumer dead-letters it)."""
    if (event.contract_key != contract_key(event.origin, event.registration_number)
            or event.origin != province_of(event.seller_region)
            or event.region != event.seller_region):
        raise ValueError(f"summary {event.contract_key} of origin {event.origin} for a seller "
                         f"in {event.seller_region} is inconsistent")
    await summaries.record(tx.conn, event, tx.origin or "", tx.now())


# -- public summaries --------------------------------------------------------------------------
async def publish_summary(tx: Tx, before: Contract | None, after: Contract,
                          origin: str | None) -> None:
    """The public summary of a registration, amendment or cancellation: published on the
    public topic and kept with the partners' (the cross-province flows read both)."""
    summary = summary_of(before, after, origin)
    if summary is not None:
        await summaries.record(tx.conn, summary, None, tx.now())
        tx.publish(summary)


# -- loading and saving ------------------------------------------------------------------------
async def _load(db: asyncpg.Connection | asyncpg.Pool, contract_id: uuid.UUID, *,
                lock: bool = False) -> Contract:
    contract = await store.load_contract(db, contract_id, lock=lock)
    if contract is None:
        raise not_found(f"No contract {contract_id}.")
    return contract


async def _decidable(tx: Tx, principal: Principal, contract_id: uuid.UUID) -> Contract:
    """The contract, locked, if the registrar's region covers it."""
    contract = await _load(tx.conn, contract_id, lock=True)
    authorize_region(principal, contract.region)
    return contract


async def _save(tx: Tx, before: Contract | None, after: Contract, events: list[Event],
                now: datetime) -> None:
    """What the transition changed (at ``now``, the transition's time), what the statistics
    gain or lose, and its events."""
    await store.save_contract(tx.conn, before, after, now)
    await rollups.apply(tx.conn, statistics_change(before, after))
    tx.publish(*events)
