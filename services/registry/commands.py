"""The registry's commands: file, review (register / refuse), amend, cancel.

Each runs in one unit of work: the contract is loaded with its row locked, the
:class:`~services.registry.domain.contract.Contract` decides, and what changed, the rollups
and the events are written in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from pydantic import ValidationError

from services.registry import repository, rollups
from services.registry.config import RegistrySettings
from services.registry.domain.contract import (
    Contract,
    registration_year,
    statistics_change,
    turnover_added,
)
from services.registry.domain.terms import ContractTerms, problems_of
from services.registry.metrics import TURNOVER
from shared.auth import Principal, authorize_region
from shared.events.base import Event
from shared.events.registry import RefusalReason
from shared.idempotency import Once
from shared.problems import ValidationFailed, not_found
from shared.service import Runtime
from shared.uow import UnitOfWork

T = TypeVar("T")
Reply = Callable[[UnitOfWork, uuid.UUID], Awaitable[T]]
"""How the caller answers a command on a contract: run at the end of the command's
transaction, so that a keyed request stores that answer with the effect."""


def parse_terms(data: dict[str, Any]) -> ContractTerms:
    """Terms checked for types and formats, then for the category's rules; a 422 with every
    field error otherwise."""
    try:
        terms = ContractTerms.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("The contract terms are invalid.", errors=[
            {"field": ".".join(["body", *map(str, e["loc"])]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)]) from exc
    errors = problems_of(terms)
    if errors:
        raise ValidationFailed("The contract does not meet its category's rules.", errors=errors)
    return terms


def _review(runtime: Runtime) -> timedelta:
    settings: RegistrySettings = runtime.settings  # type: ignore[assignment]
    return timedelta(days=settings.review_days)


async def _load(db: asyncpg.Connection | asyncpg.Pool, contract_id: uuid.UUID, *,
                lock: bool = False) -> Contract:
    contract = await repository.load_contract(db, contract_id, lock=lock)
    if contract is None:
        raise not_found(f"No contract {contract_id}.")
    return contract


async def _save(uow: UnitOfWork, before: Contract | None, after: Contract,
                events: list[Event], now: datetime) -> None:
    """What the transition changed, what the statistics gain or lose, and its events."""
    await repository.save_contract(uow.conn, before, after, now)
    await rollups.apply(uow.conn, statistics_change(before, after))
    uow.publish(*events)


def _seller_region(principal: Principal, terms: ContractTerms) -> str:
    region = str(terms.seller.region)
    authorize_region(principal, region)
    return region


async def file_contract(runtime: Runtime, principal: Principal, data: dict[str, Any],
                        once: Once | None, reply: Reply[T]) -> T:
    """File a contract signed outside the exchange (no deal); oral contracts are refused."""
    terms = parse_terms(data)
    region = _seller_region(principal, terms)
    now = runtime.clock.now()
    async with runtime.unit_of_work(region, once) as uow:
        contract, events = Contract.file(terms, seller_id=principal.subject, now=now,
                                         review=_review(runtime))
        await _save(uow, None, contract, events, now)
        return await reply(uow, contract.id)


async def submit(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                 patch: dict[str, Any], once: Once | None, reply: Reply[T]) -> T:
    """File a draft (or re-file a refused contract): its terms with the seller's changes."""
    # Refusals of the request itself come before the unit of work: not a keyed answer.
    peek = await _load(runtime.pool, contract_id)
    peek.check_seller(principal.subject)
    terms = parse_terms(peek.terms_with(patch))
    region = _seller_region(principal, terms)
    now = runtime.clock.now()
    async with runtime.unit_of_work(region, once) as uow:
        before = await _load(uow.conn, contract_id, lock=True)
        after, events = before.submit(terms, by=principal.subject, now=now,
                                      review=_review(runtime))
        await _save(uow, before, after, events, now)
        return await reply(uow, contract_id)


async def _registered_for_change(runtime: Runtime, principal: Principal,
                                 contract_id: uuid.UUID) -> Contract:
    contract = await _load(runtime.pool, contract_id)
    contract.check_seller(principal.subject)
    authorize_region(principal, contract.region)
    return contract


async def amend(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                patch: dict[str, Any], once: Once | None, reply: Reply[T]) -> T:
    """File an amendment of a registered contract (the seller's region may not change)."""
    peek = await _registered_for_change(runtime, principal, contract_id)
    terms = parse_terms(peek.terms_with(patch))
    peek.check_amendment(terms)
    return await _file_change(runtime, peek, contract_id, once, reply,
                              lambda c, now: c.amend(terms, by=principal.subject, now=now,
                                                     review=_review(runtime)))


async def cancel(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                 reason: str, once: Once | None, reply: Reply[T]) -> T:
    peek = await _registered_for_change(runtime, principal, contract_id)
    return await _file_change(runtime, peek, contract_id, once, reply,
                              lambda c, now: c.cancel(reason, by=principal.subject, now=now,
                                                      review=_review(runtime)))


Transition = Callable[[Contract, datetime], tuple[Contract, list[Event]]]


async def _file_change(runtime: Runtime, peek: Contract, contract_id: uuid.UUID,
                       once: Once | None, reply: Reply[T], transition: Transition) -> T:
    now = runtime.clock.now()
    async with runtime.unit_of_work(peek.region, once) as uow:
        before = await _load(uow.conn, contract_id, lock=True)
        after, events = transition(before, now)
        await _save(uow, before, after, events, now)
        return await reply(uow, contract_id)


async def _decidable(uow: UnitOfWork, principal: Principal, contract_id: uuid.UUID
                     ) -> Contract:
    """The contract, locked, if the registrar's region covers it."""
    contract = await _load(uow.conn, contract_id, lock=True)
    authorize_region(principal, contract.region)
    return contract


async def _peek_region(runtime: Runtime, contract_id: uuid.UUID) -> str:
    """The contract's region, needed for the unit of work before the row is read."""
    row = await repository.get_contract(runtime.pool, contract_id)
    if row is None:
        raise not_found(f"No contract {contract_id}.")
    return row["region"]


async def register(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                   once: Once | None, reply: Reply[T]) -> T:
    """Register the pending filing: the original (a number), an amendment or a cancellation."""
    registrar_region = str(principal.region)
    region = await _peek_region(runtime, contract_id)
    async with runtime.unit_of_work(region, once) as uow:
        conn = uow.conn
        before = await _decidable(uow, principal, contract_id)
        now = runtime.clock.now()
        code = sequence = None
        if before.takes_number:
            code = await repository.registrar_code(conn, registrar_region, principal.subject)
            if code is not None:
                sequence = await repository.next_sequence(
                    conn, registration_year(now), registrar_region, code)
        after, events = before.register(by=principal.subject, registrar_region=registrar_region,
                                        now=now, registrar_code=code, sequence=sequence)
        await _save(uow, before, after, events, now)
        answer = await reply(uow, contract_id)
    added = turnover_added(before, after)
    if added is not None:
        facts, amount = added
        TURNOVER.labels(facts.seller_region[:2] + "0000", facts.category).inc(amount)
    return answer


async def refuse(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                 reasons: list[RefusalReason], once: Once | None, reply: Reply[T]) -> T:
    """Refuse the pending filing with reasons (未予登记); a refused amendment or cancellation
    leaves the registered contract as it was."""
    region = await _peek_region(runtime, contract_id)
    async with runtime.unit_of_work(region, once) as uow:
        before = await _decidable(uow, principal, contract_id)
        now = runtime.clock.now()
        after, events = before.refuse(reasons, by=principal.subject, now=now)
        await _save(uow, before, after, events, now)
        return await reply(uow, contract_id)
