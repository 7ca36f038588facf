"""Filing and review of technology contracts over HTTP."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from services.registry import commands, repository
from services.registry.domain.tax import tax_flags
from services.registry.domain.terms import ContractChanges, ContractTerms
from shared.auth import Principal, Role, authorize_region, require
from shared.bounds import text
from shared.events.registry import RefusalReason
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.service import runtime_of
from shared.uow import UnitOfWork

router = APIRouter(tags=["contracts"], responses=PROBLEM_RESPONSES)

Seller = Annotated[Principal, Depends(require(Role.SELLER))]
Registrar = Annotated[Principal, Depends(require(Role.REGISTRAR))]
Reader = Annotated[Principal, Depends(require(Role.SELLER, Role.REGISTRAR, Role.REGULATOR,
                                              Role.OPERATOR))]


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


def _given(changes: BaseModel) -> dict[str, Any]:
    """The members the client sent (an explicit null included), as JSON values."""
    return changes.model_dump(mode="json", exclude_unset=True)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def view(db, contract_id: uuid.UUID) -> ContractView:
    row = await repository.get_contract(db, contract_id)
    if row is None:
        raise not_found(f"No contract {contract_id}.")
    terms = _json(row["terms"])
    try:
        flags = tax_flags(ContractTerms.model_validate(terms))
        tax = TaxView(**flags.__dict__)
    except ValidationError:
        tax = None
    filings = [FilingView(**{**dict(f), "terms": _json(f["terms"]),
                             "reasons": _json(f["reasons"])})
               for f in await repository.filings_of(db, contract_id)]
    return ContractView(
        **{k: row[k] for k in ("id", "deal_id", "listing_id", "seller_id", "region", "status",
                               "registration_number", "registrar_region", "registrar_code",
                               "registered_at")},
        terms=terms, tax=tax, filings=filings)


def _may_read(principal: Principal, contract: ContractView) -> None:
    if principal.role is Role.SELLER and principal.subject != contract.seller_id:
        raise not_found(f"No contract {contract.id}.")
    authorize_region(principal, contract.region)


@router.get("/drafts", response_model=list[ContractView])
async def drafts(request: Request, principal: Seller,
                 deal_id: Annotated[uuid.UUID | None, Query(description="one deal's")] = None
                 ) -> list[ContractView]:
    """The seller's contract drafts, pre-filled from its settled deals."""
    pool = runtime_of(request).pool
    rows = await repository.drafts_of(pool, principal.subject)
    return [await view(pool, r["id"]) for r in rows if deal_id in (None, r["deal_id"])]


def _reply(status: int, location: bool = False) -> commands.Reply[Response]:
    """The contract as it is once the command is done, read in its transaction."""
    async def reply(uow: UnitOfWork, contract_id: uuid.UUID) -> Response:
        return uow.answer(status, await view(uow.conn, contract_id),
                          {"Location": f"/contracts/{contract_id}"} if location else None)
    return reply


@router.post("/contracts", status_code=201, response_model=ContractView)
async def file_contract(terms: ContractTerms, request: Request, principal: Seller,
                        key: IdempotencyKey = None) -> Response:
    """File a contract signed outside the exchange at a registrar of the seller's region."""
    return await commands.file_contract(runtime_of(request), principal,
                                        terms.model_dump(mode="json"),
                                        await Once.of_request(request, principal, key),
                                        _reply(201, location=True))


@router.get("/contracts/{contract_id}", response_model=ContractView)
async def get_contract(contract_id: uuid.UUID, request: Request,
                       principal: Reader) -> ContractView:
    contract = await view(runtime_of(request).pool, contract_id)
    _may_read(principal, contract)
    return contract


@router.post("/contracts/{contract_id}/submission", response_model=ContractView)
async def submit(contract_id: uuid.UUID, request: Request, principal: Seller,
                 changes: Annotated[ContractChanges, Body()], key: IdempotencyKey = None
                 ) -> Response:
    """File a draft (or a refused contract again) with the seller's completions: top-level
    members of the body replace the draft's."""
    return await commands.submit(runtime_of(request), principal, contract_id, _given(changes),
                                 await Once.of_request(request, principal, key), _reply(200))


@router.post("/contracts/{contract_id}/registration", response_model=ContractView)
async def register(contract_id: uuid.UUID, request: Request, principal: Registrar,
                   key: IdempotencyKey = None) -> Response:
    """Register the filing awaiting a decision: the contract, an amendment or a cancellation."""
    return await commands.register(runtime_of(request), principal, contract_id,
                                   await Once.of_request(request, principal, key), _reply(200))


@router.post("/contracts/{contract_id}/refusal", response_model=ContractView)
async def refuse(contract_id: uuid.UUID, refusal: Refusal, request: Request,
                 principal: Registrar, key: IdempotencyKey = None) -> Response:
    return await commands.refuse(runtime_of(request), principal, contract_id, [
        RefusalReason(code=r.code.value, detail=r.detail) for r in refusal.reasons],
        await Once.of_request(request, principal, key), _reply(200))


@router.post("/contracts/{contract_id}/amendments", status_code=202,
             response_model=ContractView)
async def amend(contract_id: uuid.UUID, request: Request, principal: Seller,
                changes: Annotated[ContractChanges, Body()], key: IdempotencyKey = None
                ) -> Response:
    """File an amendment of a registered contract; it applies once a registrar registers it."""
    return await commands.amend(runtime_of(request), principal, contract_id, _given(changes),
                                await Once.of_request(request, principal, key), _reply(202))


@router.post("/contracts/{contract_id}/cancellation", status_code=202,
             response_model=ContractView)
async def cancel(contract_id: uuid.UUID, cancellation: Cancellation, request: Request,
                 principal: Seller, key: IdempotencyKey = None) -> Response:
    return await commands.cancel(runtime_of(request), principal, contract_id,
                                 cancellation.reason,
                                 await Once.of_request(request, principal, key), _reply(202))


class PendingFiling(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    kind: str
    region: str
    filed_by: str
    filed_at: datetime
    due_at: datetime
    overdue: bool


@router.get("/filings", response_model=list[PendingFiling])
async def filings(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.REGISTRAR, Role.REGULATOR,
                                                    Role.OPERATOR))],
    region: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PendingFiling]:
    """Filings awaiting a decision in the principal's region (or a region inside it)."""
    runtime = runtime_of(request)
    target = str(authorize_region(principal, region or str(principal.region)))
    now = runtime.clock.now()
    rows = await repository.pending_filings(runtime.pool, target, now, overdue, limit)
    return [PendingFiling(**{k: r[k] for k in ("id", "contract_id", "kind", "region",
                                               "filed_by", "filed_at", "due_at")},
                          overdue=r["due_at"] < now) for r in rows]
