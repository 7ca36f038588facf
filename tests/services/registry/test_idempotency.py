"""Every command of the registry with an Idempotency-Key, over HTTP against the real
database: a retry is answered with the first answer and files, decides or registers nothing."""

from __future__ import annotations

from tests.services.registry.builders import terms
from tests.services.registry.conftest import fetchval, outbox_types
from tests.support.services import retried


async def test_filing_refusal_refiling_registration_amendment_and_cancellation_once(registry):
    filed = await retried(registry, "POST", "/contracts", key="file-1", json=terms(),
                          headers=registry.seller)
    assert filed.status_code == 201 and filed.headers["location"].endswith(filed.json()["id"])
    cid = filed.json()["id"]
    refused = await retried(registry, "POST", f"/contracts/{cid}/refusal", key="refuse-1",
                            headers=registry.registrar,
                            json={"reasons": [{"code": "price-unclear"}]})
    assert refused.json()["status"] == "refused"
    refiled = await retried(registry, "POST", f"/contracts/{cid}/submission", key="submit-1",
                            headers=registry.seller, json={"tech_amount_fen": 150_000_000})
    assert refiled.json()["status"] == "filed"
    registered = await retried(registry, "POST", f"/contracts/{cid}/registration",
                               key="register-1", headers=registry.registrar)
    assert registered.json()["registration_number"] == "2026230100010001"
    amended = await retried(registry, "POST", f"/contracts/{cid}/amendments", key="amend-1",
                            headers=registry.seller, json={"tech_amount_fen": 160_000_000})
    assert amended.status_code == 202
    await retried(registry, "POST", f"/contracts/{cid}/registration", key="register-2",
                  headers=registry.registrar)
    cancelled = await retried(registry, "POST", f"/contracts/{cid}/cancellation",
                              key="cancel-1", headers=registry.seller,
                              json={"reason": "双方协议解除"})
    assert cancelled.status_code == 202
    assert await outbox_types(registry.db) == [
        "cn.techex.contract.filed.v1", "cn.techex.contract.refused.v1",
        "cn.techex.contract.filed.v1", "cn.techex.contract.registered.v1",
        "cn.techex.public.contracts.registered.v1",
        "cn.techex.contract.filed.v1", "cn.techex.contract.amended.v1",
        "cn.techex.public.contracts.amended.v1",
        "cn.techex.contract.filed.v1"]
    assert await fetchval(registry.db, "SELECT last FROM registration_counters") == 1
    gone = await retried(registry, "POST", f"/contracts/{cid}/registration", key="register-3",
                         headers=registry.registrar)
    assert gone.json()["status"] == "cancelled"
    # A decision the command refuses is the key's answer as well.
    nothing = await retried(registry, "POST", f"/contracts/{cid}/registration",
                            key="register-4", headers=registry.registrar)
    assert nothing.status_code == 409
    assert nothing.json()["type"] == "urn:techex:problem:registry-no-pending-filing"
    assert (await outbox_types(registry.db))[-2:] == [
        "cn.techex.contract.cancelled.v1", "cn.techex.public.contracts.cancelled.v1"]


async def test_the_same_key_with_other_changes_is_refused(registry):
    cid = (await registry.post("/contracts", json=terms(), headers=registry.seller)).json()["id"]
    await registry.post(f"/contracts/{cid}/registration", headers=registry.registrar)
    headers = {**registry.seller, "Idempotency-Key": "amend-x"}
    first = await registry.post(f"/contracts/{cid}/amendments", headers=headers,
                                json={"tech_amount_fen": 160_000_000})
    assert first.status_code == 202
    other = await registry.post(f"/contracts/{cid}/amendments", headers=headers,
                                json={"tech_amount_fen": 170_000_000})
    assert other.status_code == 422
    assert other.json()["type"] == "urn:techex:problem:idempotency-key-reused"
    assert (await outbox_types(registry.db)).count("cn.techex.contract.filed.v1") == 2
