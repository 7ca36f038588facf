"""The registry's commands: file, review (register / refuse), amend, cancel.

Each runs in one unit of work: the contract row is locked, its pending filing decided, the
rollups updated and the events written to the outbox in the same transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import ValidationError

from services.registry import repository, rollups
from services.registry.config import RegistrySettings
from services.registry.domain.errors import (
    AlreadyRegistered,
    ContractState,
    FilingPending,
    NoPendingFiling,
    NotTheSeller,
    NumbersExhausted,
)
from services.registry.domain.numbers import SequenceExhausted, registration_number
from services.registry.domain.statistics import Facts, combine, deltas, flow
from services.registry.domain.terms import ContractForm, ContractTerms, problems_of
from services.registry.metrics import TURNOVER
from shared.auth import Principal, authorize_region
from shared.events.procedures import ContractParty, ContractRegistered
from shared.events.registry import (
    ContractAmended,
    ContractCancelled,
    ContractFiled,
    ContractRefused,
    RefusalReason,
)
from shared.idempotency import Once
from shared.problems import ValidationFailed, not_found
from shared.regions import Region
from shared.service import Runtime
from shared.uow import UnitOfWork

T = TypeVar("T")
Reply = Callable[[UnitOfWork, uuid.UUID], Awaitable[T]]
"""How the caller answers a command on a contract: run at the end of the command's
transaction, so that a keyed request stores that answer with the effect."""

SHANGHAI = ZoneInfo("Asia/Shanghai")
ORAL_REFUSAL = RefusalReason(code="oral-contract", detail="口头合同不予登记")


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


def _dump(terms: ContractTerms) -> dict[str, Any]:
    return terms.model_dump(mode="json")


def _facts(terms: ContractTerms, year: int, month: int) -> Facts:
    buyer = terms.buyer
    return Facts(
        seller_region=str(terms.seller.region), buyer_region=buyer.region, year=year,
        month=month, category=terms.category.value, tech_field=terms.tech_field,
        entity_type=terms.seller.entity_type.value,
        ip_type=terms.ip.ip_type if terms.ip else "none", cross_border=terms.cross_border,
        tech_amount_fen=terms.tech_amount_fen)


def _facts_columns(f: Facts) -> dict[str, Any]:
    return {"stat_year": f.year, "stat_month": f.month, "buyer_region": f.buyer_region,
            "category": f.category, "tech_field": f.tech_field, "entity_type": f.entity_type,
            "ip_type": f.ip_type, "cross_border": f.cross_border,
            "tech_amount_fen": f.tech_amount_fen}


def _stored_facts(row: asyncpg.Record) -> Facts:
    return Facts(seller_region=row["region"], buyer_region=row["buyer_region"],
                 year=row["stat_year"], month=row["stat_month"], category=row["category"],
                 tech_field=row["tech_field"], entity_type=row["entity_type"],
                 ip_type=row["ip_type"], cross_border=row["cross_border"],
                 tech_amount_fen=row["tech_amount_fen"])


def _settings(runtime: Runtime) -> RegistrySettings:
    return runtime.settings  # type: ignore[return-value]


async def _locked(conn: asyncpg.Connection, contract_id: uuid.UUID) -> asyncpg.Record:
    row = await repository.get_contract(conn, contract_id, lock=True)
    if row is None:
        raise not_found(f"No contract {contract_id}.")
    return row


async def _file(runtime: Runtime, conn: asyncpg.Connection, *, contract_id: uuid.UUID,
                kind: str, region: str, terms: ContractTerms | None, current: ContractTerms,
                reason: str, actor: str, now: datetime) -> tuple[uuid.UUID, list]:
    """Insert a filing awaiting a decision and its event."""
    filing_id = uuid.uuid4()
    due = now + timedelta(days=_settings(runtime).review_days)
    try:
        async with conn.transaction():
            await repository.insert_filing(
                conn, filing_id=filing_id, contract_id=contract_id, kind=kind, region=region,
                terms=None if terms is None else _dump(terms), reason=reason, filed_by=actor,
                filed_at=now, due_at=due)
    except asyncpg.UniqueViolationError as exc:
        raise FilingPending(f"Contract {contract_id} has a filing awaiting a decision.") from exc
    shown = terms or current
    return filing_id, [ContractFiled(
        contract_id=contract_id, region=region, actor=actor, filing_id=filing_id, kind=kind,
        category=shown.category.value, subtype=shown.subtype,
        total_amount_fen=shown.total_amount_fen, tech_amount_fen=shown.tech_amount_fen,
        filed_at=now, due_at=due)]


async def _refuse_oral(conn: asyncpg.Connection, contract_id: uuid.UUID, filing_id: uuid.UUID,
                       region: str, now: datetime) -> ContractRefused:
    await repository.decide_filing(conn, filing_id, "refused", "registry", now,
                                   [ORAL_REFUSAL.model_dump()])
    await repository.update_contract(conn, contract_id, now, status="refused")
    return ContractRefused(contract_id=contract_id, region=region, actor="registry",
                           filing_id=filing_id, kind="original", reasons=[ORAL_REFUSAL],
                           refused_at=now)


async def _file_original(runtime: Runtime, uow: UnitOfWork, contract_id: uuid.UUID,
                         region: str, terms: ContractTerms, actor: str, now: datetime) -> None:
    """The contract's original filing and its event; an oral contract is refused at once."""
    filing_id, events = await _file(runtime, uow.conn, contract_id=contract_id,
                                    kind="original", region=region, terms=terms, current=terms,
                                    reason="", actor=actor, now=now)
    if terms.form is ContractForm.ORAL:
        events.append(await _refuse_oral(uow.conn, contract_id, filing_id, region, now))
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
    contract_id = uuid.uuid4()
    async with runtime.unit_of_work(region, once) as uow:
        await repository.insert_contract(
            uow.conn, contract_id=contract_id, deal_id=None, listing_id=None,
            seller_id=principal.subject, region=region, status="filed",
            terms=_dump(terms), at=now)
        await _file_original(runtime, uow, contract_id, region, terms, principal.subject, now)
        return await reply(uow, contract_id)


async def submit(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                 patch: dict[str, Any], once: Once | None, reply: Reply[T]) -> T:
    """File a draft (or re-file a refused contract): its terms with the seller's changes."""
    row = await repository.get_contract(runtime.pool, contract_id)
    if row is None:
        raise not_found(f"No contract {contract_id}.")
    if row["seller_id"] != principal.subject:
        raise NotTheSeller(f"Contract {contract_id} is filed by its seller {row['seller_id']}.")
    terms = parse_terms(_merged(row["terms"], patch))
    region = _seller_region(principal, terms)
    now = runtime.clock.now()
    async with runtime.unit_of_work(region, once) as uow:
        row = await _locked(uow.conn, contract_id)
        if row["status"] not in ("draft", "refused"):
            raise ContractState(f"Contract {contract_id} is {row['status']}; only a draft or a "
                                "refused contract is filed again.", status_now=row["status"])
        await repository.update_contract(uow.conn, contract_id, now, status="filed",
                                         terms=_dump(terms), region=region)
        await _file_original(runtime, uow, contract_id, region, terms, principal.subject, now)
        return await reply(uow, contract_id)


def _merged(stored: Any, patch: dict[str, Any]) -> dict[str, Any]:
    base = json.loads(stored) if isinstance(stored, str) else dict(stored)
    return {**base, **patch}


async def _registered_for_change(runtime: Runtime, principal: Principal,
                                 contract_id: uuid.UUID) -> asyncpg.Record:
    row = await repository.get_contract(runtime.pool, contract_id)
    if row is None:
        raise not_found(f"No contract {contract_id}.")
    if row["seller_id"] != principal.subject:
        raise NotTheSeller(f"Contract {contract_id} is filed by its seller {row['seller_id']}.")
    authorize_region(principal, row["region"])
    return row


async def amend(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                patch: dict[str, Any], once: Once | None, reply: Reply[T]) -> T:
    """File an amendment of a registered contract (the seller's region may not change)."""
    row = await _registered_for_change(runtime, principal, contract_id)
    terms = parse_terms(_merged(row["terms"], patch))
    if str(terms.seller.region) != row["region"]:
        raise ValidationFailed("An amendment keeps the seller's region.", errors=[
            {"field": "body.parties", "message": f"the seller stays in {row['region']}"}])
    return await _file_change(runtime, principal, contract_id, "amendment", terms, "", once,
                              reply)


async def cancel(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                 reason: str, once: Once | None, reply: Reply[T]) -> T:
    await _registered_for_change(runtime, principal, contract_id)
    return await _file_change(runtime, principal, contract_id, "cancellation", None, reason,
                              once, reply)


async def _file_change(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                       kind: str, terms: ContractTerms | None, reason: str, once: Once | None,
                       reply: Reply[T]) -> T:
    now = runtime.clock.now()
    row = await repository.get_contract(runtime.pool, contract_id)
    async with runtime.unit_of_work(row["region"], once) as uow:
        row = await _locked(uow.conn, contract_id)
        if row["status"] != "registered":
            raise ContractState(f"Contract {contract_id} is {row['status']}; only a registered "
                                f"contract takes an {kind}.", status_now=row["status"])
        current = ContractTerms.model_validate(_merged(row["terms"], {}))
        _, events = await _file(runtime, uow.conn, contract_id=contract_id, kind=kind,
                                region=row["region"], terms=terms, current=current,
                                reason=reason, actor=principal.subject, now=now)
        uow.publish(*events)
        return await reply(uow, contract_id)


async def _pending(conn: asyncpg.Connection, principal: Principal,
                   contract_id: uuid.UUID) -> tuple[asyncpg.Record, asyncpg.Record]:
    row = await _locked(conn, contract_id)
    authorize_region(principal, row["region"])
    filing = await repository.pending_filing(conn, contract_id)
    if filing is None:
        if row["status"] == "registered" and row["registration_number"]:
            raise AlreadyRegistered(
                f"Contract {contract_id} is registered as {row['registration_number']}; "
                "nothing awaits a decision.", registration_number=row["registration_number"])
        raise NoPendingFiling(f"No filing of contract {contract_id} awaits a decision.",
                              status_now=row["status"])
    return row, filing


def _registered(row: asyncpg.Record, terms: ContractTerms, facts: Facts, number: str,
                registrar_region: str, now: datetime) -> ContractRegistered:
    """The registration as consumers read it: the figures, the parties' regions and the flow,
    so none of them needs the filing or an earlier event."""
    return ContractRegistered(
        contract_id=row["id"], deal_id=row["deal_id"], listing_id=row["listing_id"],
        region=row["region"], registration_number=number, registered_at=now,
        registrar_region=registrar_region, category=facts.category, subtype=terms.subtype,
        tech_field=facts.tech_field, ip_type=facts.ip_type,
        total_amount_fen=terms.total_amount_fen, tech_amount_fen=terms.tech_amount_fen,
        signed_on=terms.signed_on, valid_from=terms.valid_from, valid_until=terms.valid_until,
        parties=[ContractParty(role=p.role.value, country=p.country,
                               region=None if p.region is None else str(p.region),
                               entity_type=p.entity_type.value) for p in terms.parties],
        buyer_region=facts.buyer_region, crosses_province=_crosses_province(facts),
        cross_border=facts.cross_border, flow=flow(facts.seller_region, facts.buyer_region))


def _crosses_province(facts: Facts) -> bool:
    """The buyer is in another province than the seller, or abroad."""
    if facts.buyer_region is None:
        return True
    return Region.parse(facts.buyer_region).province != Region.parse(facts.seller_region).province


async def register(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                   once: Once | None, reply: Reply[T]) -> T:
    """Register the pending filing: the original (a number), an amendment or a cancellation."""
    registrar_region = str(principal.region)
    turnover: tuple[Facts, int] | None = None
    # The contract's region is needed for the unit of work before the row is read.
    peek = await repository.get_contract(runtime.pool, contract_id)
    if peek is None:
        raise not_found(f"No contract {contract_id}.")
    async with runtime.unit_of_work(peek["region"], once) as uow:
        conn = uow.conn
        row, filing = await _pending(conn, principal, contract_id)
        now = runtime.clock.now()
        local = now.astimezone(SHANGHAI)
        kind = filing["kind"]
        if kind == "original":
            if row["registration_number"]:
                raise AlreadyRegistered(f"Contract {contract_id} is registered already.")
            terms = ContractTerms.model_validate(_merged(row["terms"], {}))
            code = await repository.registrar_code(conn, registrar_region, principal.subject)
            if code is None:
                raise NumbersExhausted(f"Region {registrar_region} has 99 registrars already.")
            seq = await repository.next_sequence(conn, local.year, registrar_region, code)
            try:
                number = registration_number(local.year, registrar_region, code, seq)
            except SequenceExhausted as exc:
                raise NumbersExhausted(str(exc)) from exc
            facts = _facts(terms, local.year, local.month)
            await repository.update_contract(
                conn, contract_id, now, status="registered", registration_number=number,
                registrar_region=registrar_region, registrar_code=code, registered_at=now,
                **_facts_columns(facts))
            await rollups.apply(conn, deltas(facts))
            turnover = (facts, facts.tech_amount_fen)
            uow.publish(_registered(row, terms, facts, number, registrar_region, now))
        elif kind == "amendment":
            number = row["registration_number"]
            old = _stored_facts(row)
            before = ContractTerms.model_validate(_merged(row["terms"], {}))
            terms = ContractTerms.model_validate(_merged(filing["terms"], {}))
            facts = _facts(terms, old.year, old.month)
            await repository.update_contract(conn, contract_id, now, terms=_dump(terms),
                                             **_facts_columns(facts))
            await rollups.apply(conn, combine(deltas(old, -1), deltas(facts)))
            if facts.tech_amount_fen > old.tech_amount_fen:
                turnover = (facts, facts.tech_amount_fen - old.tech_amount_fen)
            changed = sorted(k for k, v in _dump(terms).items() if _dump(before).get(k) != v)
            uow.publish(ContractAmended(
                contract_id=contract_id, region=row["region"], actor=principal.subject,
                filing_id=filing["id"], registration_number=number, changed=changed,
                total_amount_fen=terms.total_amount_fen, tech_amount_fen=terms.tech_amount_fen,
                amended_at=now))
        else:
            number = row["registration_number"]
            await repository.update_contract(conn, contract_id, now, status="cancelled")
            await rollups.apply(conn, deltas(_stored_facts(row), -1))
            uow.publish(ContractCancelled(
                contract_id=contract_id, region=row["region"], actor=principal.subject,
                filing_id=filing["id"], registration_number=number, reason=filing["reason"],
                cancelled_at=now))
        await repository.decide_filing(conn, filing["id"], "registered", principal.subject,
                                       now, None)
        answer = await reply(uow, contract_id)
    if turnover is not None:
        facts, amount = turnover
        TURNOVER.labels(facts.seller_region[:2] + "0000", facts.category).inc(amount)
    return answer


async def refuse(runtime: Runtime, principal: Principal, contract_id: uuid.UUID,
                 reasons: list[RefusalReason], once: Once | None, reply: Reply[T]) -> T:
    """Refuse the pending filing with reasons (未予登记); a refused amendment or cancellation
    leaves the registered contract as it was."""
    peek = await repository.get_contract(runtime.pool, contract_id)
    if peek is None:
        raise not_found(f"No contract {contract_id}.")
    async with runtime.unit_of_work(peek["region"], once) as uow:
        row, filing = await _pending(uow.conn, principal, contract_id)
        now = runtime.clock.now()
        await repository.decide_filing(uow.conn, filing["id"], "refused", principal.subject,
                                       now, [r.model_dump() for r in reasons])
        if filing["kind"] == "original":
            await repository.update_contract(uow.conn, contract_id, now, status="refused")
        uow.publish(ContractRefused(
            contract_id=contract_id, region=row["region"], actor=principal.subject,
            filing_id=filing["id"], kind=filing["kind"], reasons=reasons, refused_at=now))
        return await reply(uow, contract_id)
