"""Running a command from an HTTP request: its unit of work, its Idempotency-Key, its answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.listing.metrics import COMMANDS
from shared.auth import Principal
from shared.idempotency import Once
from shared.service import runtime_of
from shared.uow import UnitOfWork


async def run_command(
    request: Request,
    principal: Principal,
    *,
    name: str,
    region: str,
    key: str | None,
    command: Callable[[UnitOfWork], Awaitable[BaseModel]],
    status: int = 200,
) -> Response:
    """Run ``command`` in one transaction; a retried ``Idempotency-Key`` gets the first answer."""
    runtime = runtime_of(request)
    async with runtime.unit_of_work(
            region, await Once.of_request(request, principal, key)) as uow:
        answer = uow.answer(status, await command(uow))
    COMMANDS.labels(name, region[:2] + "0000").inc()
    return answer
