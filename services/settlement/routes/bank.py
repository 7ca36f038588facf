"""``POST /bank/callbacks``: the bank confirms a deposit or a payment toward a deal."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from services.settlement import handlers
from services.settlement.config import SettlementSettings
from services.settlement.domain import bank
from services.settlement.domain.errors import BadSignature
from services.settlement.routes import TheBooks
from services.settlement.schemas import CALLBACK, CallbackOut
from shared.openapi import inline_schema
from shared.problems import PROBLEM_RESPONSES, ValidationFailed, field_errors
from shared.ratelimit import per_address, rate_limited
from shared.service import runtime_of

log = logging.getLogger(__name__)

router = APIRouter(tags=["bank"], responses=PROBLEM_RESPONSES)


@router.post("/bank/callbacks", response_model=CallbackOut,
             dependencies=[per_address("bank_callbacks")],
             responses=rate_limited("bank_callbacks"), openapi_extra={
    "parameters": [{"name": bank.SIGNATURE_HEADER, "in": "header", "required": True,
                    "description": "`sha256=<hex HMAC-SHA256 of the raw body>`",
                    "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"}}],
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": inline_schema(CALLBACK)}}}})
async def bank_callback(request: Request, books: TheBooks) -> dict[str, Any]:
    """Apply a signed bank notice once per bank ``reference``: the same reference again is
    answered with the first result and ``duplicate: true``. A bad signature is 401 and logged;
    nothing is posted."""
    runtime = runtime_of(request)
    settings: SettlementSettings = runtime.settings  # type: ignore[assignment]
    raw = await request.body()
    try:
        bank.verify(settings.bank_callback_secret, raw,
                    request.headers.get(bank.SIGNATURE_HEADER))
    except BadSignature:
        log.warning("bank callback refused: bad signature (%d bytes from %s)", len(raw),
                    request.client.host if request.client else "?")
        raise
    try:
        cb = CALLBACK.validate_json(raw)
    except ValidationError as e:
        raise ValidationFailed(
            "The callback body is not valid.",
            errors=field_errors(e.errors())) from None
    bank.check_fresh(cb.timestamp, runtime.clock.now(),
                     timedelta(seconds=settings.bank_callback_window_seconds))
    async with runtime.transaction() as tx:
        return await handlers.apply_bank_callback(tx, cb, books=books)
