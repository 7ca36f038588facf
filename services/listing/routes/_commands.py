"""Running a command from an HTTP request: its unit of work, its Idempotency-Key, its answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.listing.metrics import COMMANDS
from shared import idempotency
from shared.auth import Principal
from shared.service import runtime_of
from shared.uow import UnitOfWork


async def run_command(
    request: Request,
    principal: Principal,
    *,
    name: str,
    region: str,
    key: str | None,
    fingerprint: Any,
    command: Callable[[UnitOfWork], Awaitable[BaseModel]],
    status: int = 200,
) -> JSONResponse:
    """Run ``command`` in one transaction; a retried ``Idempotency-Key`` gets the first answer."""
    runtime = runtime_of(request)
    async with runtime.unit_of_work(region) as uow:
        async def run() -> tuple[int, Any]:
            return status, (await command(uow)).model_dump(mode="json")

        code, body = await idempotency.run_once(
            uow.conn, f"listing:{name}:{principal.subject}", key,
            {"path": request.url.path, "body": fingerprint}, run)
    COMMANDS.labels(name, region[:2] + "0000").inc()
    return JSONResponse(body, status_code=code)
