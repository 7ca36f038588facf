"""Filing and review of technology contracts over HTTP."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.registry import handlers, metrics
from services.registry.config import RegistrySettings
from services.registry.domain.terms import ContractChanges, ContractTerms
from services.registry.routes.national import refuse_on_the_hub
from services.registry.schemas import Cancellation, ContractView, PendingFiling, Refusal
from services.registry.store import contracts as store
from shared.auth import Principal, Role, authorize_region, require
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.roles import Registrar, Seller
from shared.service import runtime_of

router = APIRouter(tags=["contracts"], responses=PROBLEM_RESPONSES,
                   dependencies=[Depends(refuse_on_the_hub)])
"""Every command answers 409 ``registry-national-hub`` on the national hub."""

Reader = Annotated[Principal, Depends(require(Role.SELLER, Role.REGISTRAR, Role.REGULATOR,
                                              Role.OPERATOR))]
Reviewer = Annotated[Principal, Depends(require(Role.REGISTRAR, Role.REGULATOR, Role.OPERATOR))]


def _review(request: Request) -> handlers.ReviewPeriod:
    runtime = runtime_of(request)
    settings: RegistrySettings = runtime.settings  # type: ignore[assignment]
    return handlers.review_period(settings, runtime.common.subplatforms)


Review = Annotated[handlers.ReviewPeriod, Depends(_review)]


def _given(changes: BaseModel) -> dict[str, Any]:
    """The members the client sent (an explicit null included), as JSON values."""
    return changes.model_dump(mode="json", exclude_unset=True)


async def view(db: asyncpg.Connection | asyncpg.Pool, contract_id: uuid.UUID) -> ContractView:
    """The contract as stored (in a command: as its transaction leaves it)."""
    contract = await store.load_contract(db, contract_id)
    if contract is None:
        raise not_found(f"No contract {contract_id}.")
    return ContractView.of(contract)


def _may_read(principal: Principal, contract: ContractView) -> None:
    if principal.role is Role.SELLER and principal.subject != contract.seller_id:
        raise not_found(f"No contract {contract.id}.")
    authorize_region(principal, contract.region)


@router.get("/drafts", response_model=list[ContractView])
async def drafts(request: Request, principal: Seller,
                 deal_id: Annotated[uuid.UUID | None, Query(description="one deal's")] = None
                 ) -> list[ContractView]:
    """The seller's contract drafts, pre-filled from its settled deals."""
    drafts = await store.drafts_of(runtime_of(request).pool, principal.subject, deal_id)
    return [ContractView.of(d) for d in drafts]


@router.post("/contracts", status_code=201, response_model=ContractView)
async def file_contract(terms: ContractTerms, request: Request, principal: Seller,
                        review: Review, key: IdempotencyKey = None) -> Response:
    """File a contract signed outside the exchange at a registrar of the seller's region."""
    once = await Once.of_request(request, principal, key)
    checked = handlers.filing_terms(principal, terms.model_dump(mode="json"))
    async with runtime_of(request).transaction(once) as tx:
        contract = await handlers.file_contract(tx, principal, checked, review=review)
        return tx.answer(201, await view(tx.conn, contract.id),
                         {"Location": f"/contracts/{contract.id}"})


@router.get("/contracts/{contract_id}", response_model=ContractView)
async def get_contract(contract_id: uuid.UUID, request: Request,
                       principal: Reader) -> ContractView:
    contract = await view(runtime_of(request).pool, contract_id)
    _may_read(principal, contract)
    return contract


@router.post("/contracts/{contract_id}/submission", response_model=ContractView)
async def submit(contract_id: uuid.UUID, request: Request, principal: Seller, review: Review,
                 changes: Annotated[ContractChanges, Body()], key: IdempotencyKey = None
                 ) -> Response:
    """File a draft (or a refused contract again) with the seller's completions: top-level
    members of the body replace the draft's."""
    runtime, once = runtime_of(request), await Once.of_request(request, principal, key)
    terms = await handlers.submission_terms(runtime.pool, principal, contract_id,
                                            _given(changes))
    async with runtime.transaction(once) as tx:
        await handlers.submit(tx, principal, contract_id, terms, review=review)
        return tx.answer(200, await view(tx.conn, contract_id))


@router.post("/contracts/{contract_id}/registration", response_model=ContractView)
async def register(contract_id: uuid.UUID, request: Request, principal: Registrar,
                   key: IdempotencyKey = None) -> Response:
    """Register the filing awaiting a decision: the contract, an amendment or a cancellation."""
    runtime = runtime_of(request)
    async with runtime.transaction(await Once.of_request(request, principal, key)) as tx:
        _, added = await handlers.register(tx, principal, contract_id,
                                           origin=runtime.common.region)
        answer = tx.answer(200, await view(tx.conn, contract_id))
    metrics.count_turnover(added)  # once committed
    return answer


@router.post("/contracts/{contract_id}/refusal", response_model=ContractView)
async def refuse(contract_id: uuid.UUID, refusal: Refusal, request: Request,
                 principal: Registrar, key: IdempotencyKey = None) -> Response:
    async with runtime_of(request).transaction(
            await Once.of_request(request, principal, key)) as tx:
        await handlers.refuse(tx, principal, contract_id, refusal.refusal_reasons())
        return tx.answer(200, await view(tx.conn, contract_id))


@router.post("/contracts/{contract_id}/amendments", status_code=202,
             response_model=ContractView)
async def amend(contract_id: uuid.UUID, request: Request, principal: Seller, review: Review,
                changes: Annotated[ContractChanges, Body()], key: IdempotencyKey = None
                ) -> Response:
    """File an amendment of a registered contract; it applies once a registrar registers it."""
    runtime, once = runtime_of(request), await Once.of_request(request, principal, key)
    terms = await handlers.amendment_terms(runtime.pool, principal, contract_id,
                                           _given(changes))
    async with runtime.transaction(once) as tx:
        await handlers.amend(tx, principal, contract_id, terms, review=review)
        return tx.answer(202, await view(tx.conn, contract_id))


@router.post("/contracts/{contract_id}/cancellation", status_code=202,
             response_model=ContractView)
async def cancel(contract_id: uuid.UUID, cancellation: Cancellation, request: Request,
                 principal: Seller, review: Review, key: IdempotencyKey = None) -> Response:
    runtime, once = runtime_of(request), await Once.of_request(request, principal, key)
    await handlers.own_contract(runtime.pool, principal, contract_id)
    async with runtime.transaction(once) as tx:
        await handlers.cancel(tx, principal, contract_id, cancellation.reason, review=review)
        return tx.answer(202, await view(tx.conn, contract_id))


@router.get("/filings", response_model=list[PendingFiling])
async def filings(
    request: Request,
    principal: Reviewer,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PendingFiling]:
    """Filings awaiting a decision in the principal's region (or a region inside it)."""
    runtime = runtime_of(request)
    target = str(authorize_region(principal, region or str(principal.region)))
    now = runtime.clock.now()
    rows = await store.pending_filings(runtime.pool, target, now, overdue, limit)
    return [PendingFiling(**{k: r[k] for k in ("id", "contract_id", "kind", "region",
                                               "filed_by", "filed_at", "due_at")},
                          overdue=r["due_at"] < now) for r in rows]
