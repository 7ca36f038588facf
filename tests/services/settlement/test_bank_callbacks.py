"""Bank callbacks: HMAC-SHA256 over the raw body, a signed timestamp against replays, applied
once per bank reference."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from services.settlement.config import SettlementSettings
from services.settlement.domain.bank import SIGNATURE_HEADER, sign
from tests.services.settlement.support import (
    NOW,
    concluded,
    deliver,
    ledger_lines,
    operator,
    outbox_types,
    registered,
)

SECRET = SettlementSettings.model_fields["bank_callback_secret"].default


async def _post(client, payload: dict, *, secret: str = SECRET, tamper: bool = False):
    raw = json.dumps(payload).encode()
    signature = sign(secret, raw)
    if tamper:
        raw = raw.replace(b'"amount_fen": ', b'"amount_fen": 1')
    return await client.post("/bank/callbacks", content=raw,
                             headers={SIGNATURE_HEADER: signature,
                                      "Content-Type": "application/json"})


async def test_a_deposit_callback_is_applied_once_per_reference(settlement, common):
    client = settlement
    proc = uuid.uuid4()
    await deliver(client, registered(proc, "longjiang-coatings", 15_000_000))
    payload = {"kind": "deposit", "reference": "ICBC-0001", "timestamp": NOW.isoformat(),
               "amount_fen": 15_000_000, "procedure_id": str(proc),
               "bidder_id": "longjiang-coatings"}
    first = await _post(client, payload)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False
    assert first.json()["result"]["status"] == "held"
    lines = await ledger_lines(client.db)
    again = await _post(client, payload)
    assert again.json()["duplicate"] is True
    assert again.json()["result"] == first.json()["result"]
    assert await ledger_lines(client.db) == lines
    assert (await outbox_types(client.db)).count("cn.techex.deposit.confirmed.v1") == 1
    # the operator confirming the same deposit afterwards is told it already is
    r = await client.post("/deposits", json={"procedure_id": str(proc),
                                             "bidder_id": "longjiang-coatings",
                                             "amount_fen": 15_000_000}, headers=operator(common))
    assert r.status_code == 200 and r.json()["already_confirmed"]


async def test_a_payment_callback_counts_toward_the_deal(settlement, common):
    client = settlement
    deal = concluded(uuid.uuid4(), "longjiang-coatings", 10_000_000, route="negotiated")
    await deliver(client, deal)
    payload = {"kind": "payment", "reference": "ABC-77", "timestamp": NOW.isoformat(),
               "amount_fen": 4_000_000, "deal_id": str(deal.deal_id)}
    assert (await _post(client, payload)).json()["result"]["paid_fen"] == 4_000_000
    assert (await _post(client, payload)).json()["duplicate"] is True
    d = (await client.get(f"/deals/{deal.deal_id}", headers=operator(common))).json()
    assert d["paid_fen"] == 4_000_000
    assert [(p["source"], p["reference"]) for p in d["payments"]] == [("bank", "ABC-77")]


async def test_bad_callbacks_are_refused_and_post_nothing(settlement, common, clock):
    client = settlement
    deal = concluded(uuid.uuid4(), "longjiang-coatings", 10_000_000, route="negotiated")
    await deliver(client, deal)
    before = await ledger_lines(client.db)
    ok = {"kind": "payment", "reference": "R-1", "timestamp": NOW.isoformat(),
          "amount_fen": 1_000_000, "deal_id": str(deal.deal_id)}
    cases = [
        (await _post(client, ok, secret="not-the-bank"), 401, "settlement-bank-signature-invalid"),
        (await _post(client, ok, tamper=True), 401, "settlement-bank-signature-invalid"),
        (await client.post("/bank/callbacks", json=ok), 401, "settlement-bank-signature-invalid"),
        (await _post(client, {**ok, "timestamp": (NOW - timedelta(minutes=6)).isoformat()}),
         401, "settlement-bank-callback-stale"),
        (await _post(client, {**ok, "amount_fen": -5}), 422, "validation"),
        (await _post(client, {**ok, "amount_fen": 99_000_000}), 422, "settlement-overpayment"),
        (await _post(client, {**ok, "deal_id": str(uuid.uuid4())}), 404,
         "settlement-unknown-deal"),
    ]
    for response, status, slug in cases:
        assert response.status_code == status, (slug, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == f"urn:techex:problem:{slug}"
    assert await ledger_lines(client.db) == before
    # a refused reference was not consumed: the corrected callback with it is applied
    fixed = await _post(client, ok)
    assert fixed.status_code == 200 and fixed.json()["duplicate"] is False


async def test_signed_hostile_values_are_422_and_post_nothing(settlement, common):
    client = settlement
    proc = uuid.uuid4()
    await deliver(client, registered(proc, "longjiang-coatings", 15_000_000))
    lines = await ledger_lines(client.db)
    base = {"kind": "deposit", "reference": "ICBC-0002", "timestamp": NOW.isoformat(),
            "amount_fen": 15_000_000, "procedure_id": str(proc),
            "bidder_id": "longjiang-coatings"}
    for change, field in (({"amount_fen": 10**30}, "amount_fen"),
                          ({"amount_fen": 15_000_000.0}, "amount_fen"),
                          ({"bidder_id": "longjiang\x00coatings"}, "bidder_id"),
                          ({"reference": "ICBC\x000002"}, "reference"),
                          ({"timestamp": "9999-12-31T23:59:59Z"}, "timestamp")):
        r = await _post(client, {**base, **change})
        assert r.status_code == 422, (change, r.text)
        assert any(field in e["field"] for e in r.json()["errors"]), r.json()
    assert await ledger_lines(client.db) == lines
    assert "cn.techex.deposit.confirmed.v1" not in await outbox_types(client.db)


async def test_callbacks_from_one_address_are_rate_limited_before_the_signature(
        settlement_settings, common, clock):
    from services.settlement.api import create_app
    from tests.support.services import running

    limited = common.model_copy(update={"bank_callback_rate": 0.01, "bank_callback_burst": 3})
    app = create_app(settlement_settings, limited, run_background=False, clock=clock)
    payload = {"kind": "payment", "reference": "BOC-1", "timestamp": NOW.isoformat(),
               "amount_fen": 100, "deal_id": str(uuid.uuid4())}
    async with running(app) as client:
        statuses = [(await _post(client, payload, secret="forged" * 8)).status_code
                    for _ in range(3)]
        assert statuses == [401, 401, 401]
        refused = await _post(client, payload)  # even a good signature, once over the limit
        assert refused.status_code == 429
        assert refused.json()["limit"] == "bank_callbacks"
        assert int(refused.headers["retry-after"]) >= 1
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert "Retry-After" in paths["/bank/callbacks"]["post"]["responses"]["429"]["headers"]
