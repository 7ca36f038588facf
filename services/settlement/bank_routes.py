"""``POST /bank/callbacks``: the bank confirms a deposit or a payment toward a deal."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from services.settlement import bank, settling, store
from services.settlement.config import SettlementSettings
from services.settlement.problems import UnknownDeal
from services.settlement.routes import books_of
from services.settlement.schemas import CallbackOut, DepositOut
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
        "schema": inline_schema(bank.CALLBACK)}}}})
async def bank_callback(request: Request) -> dict[str, Any]:
    """Apply a signed bank notice once per bank ``reference``: the same reference again is
    answered with the first result and ``duplicate: true``. A bad signature is 401 and logged;
    nothing is posted."""
    runtime = runtime_of(request)
    settings: SettlementSettings = runtime.settings  # type: ignore[assignment]
    raw = await request.body()
    try:
        bank.verify(settings.bank_callback_secret, raw,
                    request.headers.get(bank.SIGNATURE_HEADER))
    except bank.BadSignature:
        log.warning("bank callback refused: bad signature (%d bytes from %s)", len(raw),
                    request.client.host if request.client else "?")
        raise
    try:
        cb = bank.CALLBACK.validate_json(raw)
    except ValidationError as e:
        raise ValidationFailed(
            "The callback body is not valid.",
            errors=field_errors(e.errors())) from None
    bank.check_fresh(cb.timestamp, runtime.clock.now(),
                     timedelta(seconds=settings.bank_callback_window_seconds))
    books = books_of(request)
    if cb.kind == "deposit":
        reg = await store.registration(runtime.pool, cb.procedure_id, cb.bidder_id)
        region = reg["region"] if reg else "000000"
    else:
        deal = await store.deal(runtime.pool, cb.deal_id)
        if deal is None:
            raise UnknownDeal(f"No deal {cb.deal_id} is being settled.")
        region = deal["region"]
    out = settling.Outcome()
    async with runtime.unit_of_work(region) as uow:
        # The claim on the reference blocks a concurrent duplicate until this commits.
        first = await uow.conn.fetchval(
            "INSERT INTO bank_callbacks (reference, kind, result, received_at)"
            " VALUES ($1, $2, 'null', $3) ON CONFLICT DO NOTHING RETURNING true",
            cb.reference, cb.kind, runtime.clock.now())
        if not first:
            stored = await uow.conn.fetchval(
                "SELECT result FROM bank_callbacks WHERE reference = $1", cb.reference)
            return {"reference": cb.reference, "duplicate": True,
                    "result": json.loads(stored)}
        if cb.kind == "deposit":
            row, fresh, out = await settling.confirm_deposit(
                uow.conn, books, cb.procedure_id, cb.bidder_id, cb.amount_fen, cb.reference)
            result = {"kind": "deposit",
                      **DepositOut.of(row, already_confirmed=not fresh).model_dump(mode="json")}
        else:
            out = await settling.record_payment(uow.conn, books, cb.deal_id, cb.amount_fen,
                                                "bank", cb.reference)
            result = {"kind": "payment", **out.body}
        uow.publish(*out.events)
        await uow.conn.execute("UPDATE bank_callbacks SET result = $2::jsonb WHERE reference = $1",
                               cb.reference, json.dumps(result))
    out.count()
    return {"reference": cb.reference, "duplicate": False, "result": result}
