"""Filing, review, amendment and cancellation over HTTP, with the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.auth import Role
from tests.services.registry.builders import terms
from tests.services.registry.conftest import fetchval, outbox_types
from tests.support.services import bearer

PROBLEM = "application/problem+json"


async def _filed(client, data=None) -> dict:
    r = await client.post("/contracts", json=data or terms(), headers=client.seller)
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_filed_contract_is_registered_with_a_number_and_tax_flags(registry):
    contract = await _filed(registry)
    assert contract["status"] == "filed" and contract["region"] == "230102"
    assert contract["filings"][0]["due_at"] == "2026-05-10T02:00:00Z"  # 30 days
    assert contract["tax"] == {"income_tax_relief": True, "income_tax_exempt_fen": 186_000_000,
                               "income_tax_half_rate_fen": 0, "vat_exempt": True}
    r = await registry.post(f"/contracts/{contract['id']}/registration",
                            headers=registry.registrar)
    assert r.status_code == 200, r.text
    registered = r.json()
    assert registered["status"] == "registered"
    assert registered["registration_number"] == "2026230100010001"
    assert registered["filings"][0]["status"] == "registered"
    assert await outbox_types(registry.db) == ["cn.techex.contract.filed.v1",
                                               "cn.techex.contract.registered.v1",
                                               "cn.techex.public.contracts.registered.v1"]


async def test_the_same_contract_is_never_registered_twice(registry):
    contract = await _filed(registry)
    path = f"/contracts/{contract['id']}/registration"
    assert (await registry.post(path, headers=registry.registrar)).status_code == 200
    again = await registry.post(path, headers=registry.registrar)
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["type"] == "urn:techex:problem:registry-already-registered"
    other = bearer(registry.runtime.common, Role.REGISTRAR, "230102", "daoli-registrar")
    assert (await registry.post(path, headers=other)).status_code == 409
    assert await fetchval(registry.db, "SELECT last FROM registration_counters") == 1


async def test_refusal_with_reasons_then_refiling(registry):
    contract = await _filed(registry)
    r = await registry.post(f"/contracts/{contract['id']}/refusal", headers=registry.registrar,
                            json={"reasons": [{"code": "price-unclear",
                                               "detail": "技术交易额未列明"},
                                              {"code": "missing-evidence"}]})
    assert r.status_code == 200, r.text
    refused = r.json()
    assert refused["status"] == "refused"
    assert refused["filings"][0]["reasons"] == [
        {"code": "price-unclear", "detail": "技术交易额未列明"},
        {"code": "missing-evidence", "detail": ""}]
    no_reason = await registry.post(f"/contracts/{contract['id']}/refusal",
                                    headers=registry.registrar, json={"reasons": []})
    assert no_reason.status_code == 422
    unknown = await registry.post(f"/contracts/{contract['id']}/refusal",
                                  headers=registry.registrar,
                                  json={"reasons": [{"code": "dislike"}]})
    assert unknown.status_code == 422
    nothing_pending = await registry.post(f"/contracts/{contract['id']}/registration",
                                          headers=registry.registrar)
    assert nothing_pending.json()["type"] == "urn:techex:problem:registry-no-pending-filing"
    refiled = await registry.post(f"/contracts/{contract['id']}/submission",
                                  headers=registry.seller, json={"tech_amount_fen": 150_000_000})
    assert refiled.status_code == 200, refiled.text
    assert refiled.json()["status"] == "filed" and len(refiled.json()["filings"]) == 2
    assert await outbox_types(registry.db) == ["cn.techex.contract.filed.v1",
                                               "cn.techex.contract.refused.v1",
                                               "cn.techex.contract.filed.v1"]


async def test_an_oral_contract_is_refused(registry):
    contract = await _filed(registry, terms(form="oral"))
    assert contract["status"] == "refused"
    assert contract["filings"][0]["reasons"][0]["code"] == "oral-contract"
    r = await registry.post(f"/contracts/{contract['id']}/registration",
                            headers=registry.registrar)
    assert r.status_code == 409


@pytest.mark.parametrize(("change", "field"), [
    ({"tech_amount_fen": 300_000_000}, "body.tech_amount_fen"),       # split inconsistent
    ({"signed_on": "2026-13-01"}, "body.signed_on"),                   # malformed date
    ({"valid_until": "next year"}, "body.valid_until"),
    ({"category": "licence"}, "body.licence_term"),                    # category rules
])
async def test_bad_filings_are_problems_and_change_nothing(registry, change, field):
    r = await registry.post("/contracts", json=terms() | change, headers=registry.seller)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert field in {e["field"] for e in r.json()["errors"]}
    assert await fetchval(registry.db, "SELECT count(*) FROM contracts") == 0
    assert await outbox_types(registry.db) == []


async def test_unknown_region_and_a_seller_outside_the_principals_region(registry):
    unknown = terms()
    unknown["parties"][1] = unknown["parties"][1] | {"region": "239999"}
    r = await registry.post("/contracts", json=unknown, headers=registry.seller)
    assert r.status_code == 422
    assert "body.parties.1.region" in {e["field"] for e in r.json()["errors"]}
    elsewhere = await registry.post("/contracts", json=terms(seller="210202"),
                                    headers=registry.seller)
    assert elsewhere.status_code == 403
    assert elsewhere.json()["type"] == "urn:techex:problem:forbidden-region"
    assert await fetchval(registry.db, "SELECT count(*) FROM contracts") == 0


async def test_a_registrar_outside_the_sellers_region_cannot_decide(registry):
    contract = await _filed(registry)
    daqing = bearer(registry.runtime.common, Role.REGISTRAR, "230600", "daqing-registrar")
    r = await registry.post(f"/contracts/{contract['id']}/registration", headers=daqing)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    seller = await registry.post(f"/contracts/{contract['id']}/registration",
                                 headers=registry.seller)
    assert seller.status_code == 403
    state = await registry.get(f"/contracts/{contract['id']}", headers=registry.registrar)
    assert state.json()["status"] == "filed"
    assert await fetchval(registry.db, "SELECT count(*) FROM registration_counters") == 0
    assert await outbox_types(registry.db) == ["cn.techex.contract.filed.v1"]


async def test_amendment_and_cancellation_go_through_the_registrar(registry):
    contract = await _filed(registry)
    cid = contract["id"]
    await registry.post(f"/contracts/{cid}/registration", headers=registry.registrar)
    amend = await registry.post(f"/contracts/{cid}/amendments", headers=registry.seller,
                                json={"tech_amount_fen": 190_000_000})
    assert amend.status_code == 202, amend.text
    twice = await registry.post(f"/contracts/{cid}/amendments", headers=registry.seller,
                                json={"tech_amount_fen": 150_000_000})
    assert twice.json()["type"] == "urn:techex:problem:registry-filing-pending"
    done = await registry.post(f"/contracts/{cid}/registration", headers=registry.registrar)
    assert done.json()["terms"]["tech_amount_fen"] == 190_000_000
    assert done.json()["registration_number"] == "2026230100010001"
    cancel = await registry.post(f"/contracts/{cid}/cancellation", headers=registry.seller,
                                 json={"reason": "双方协议解除"})
    assert cancel.status_code == 202
    refused = await registry.post(f"/contracts/{cid}/refusal", headers=registry.registrar,
                                  json={"reasons": [{"code": "missing-evidence"}]})
    assert refused.json()["status"] == "registered"  # a refused cancellation changes nothing
    await registry.post(f"/contracts/{cid}/cancellation", headers=registry.seller,
                        json={"reason": "双方协议解除"})
    gone = await registry.post(f"/contracts/{cid}/registration", headers=registry.registrar)
    assert gone.json()["status"] == "cancelled"
    assert await outbox_types(registry.db) == [
        "cn.techex.contract.filed.v1", "cn.techex.contract.registered.v1",
        "cn.techex.public.contracts.registered.v1",
        "cn.techex.contract.filed.v1", "cn.techex.contract.amended.v1",
        "cn.techex.public.contracts.amended.v1",
        "cn.techex.contract.filed.v1", "cn.techex.contract.refused.v1",
        "cn.techex.contract.filed.v1", "cn.techex.contract.cancelled.v1",
        "cn.techex.public.contracts.cancelled.v1"]


async def test_overdue_filings_are_visible_and_counted(registry, clock):
    from services.registry.metrics import OVERDUE, PENDING, refresh_gauges

    first = await _filed(registry)
    clock.advance(timedelta(days=20))
    await _filed(registry)
    clock.advance(timedelta(days=11))  # the first is 31 days old
    overdue = await registry.get("/filings?overdue=true", headers=registry.registrar)
    assert [f["contract_id"] for f in overdue.json()] == [first["id"]]
    assert len((await registry.get("/filings", headers=registry.registrar)).json()) == 2
    outside = await registry.get("/filings?region=230600", headers=registry.registrar)
    assert outside.status_code == 403
    await refresh_gauges(registry.runtime)
    assert (PENDING._value.get(), OVERDUE._value.get()) == (2, 1)


async def test_contracts_are_read_by_their_seller_and_their_region_only(registry):
    contract = await _filed(registry)
    path = f"/contracts/{contract['id']}"
    common = registry.runtime.common
    assert (await registry.get(path, headers=registry.regulator)).status_code == 200
    other_seller = bearer(common, Role.SELLER, "230100", "someone-else")
    assert (await registry.get(path, headers=other_seller)).status_code == 404
    fujian = bearer(common, Role.REGULATOR, "350000", "fj-kjt")
    assert (await registry.get(path, headers=fujian)).status_code == 403


async def test_a_retried_filing_with_its_idempotency_key_files_once(registry):
    headers = registry.seller | {"Idempotency-Key": "contract-2026-0042"}
    first = await registry.post("/contracts", json=terms(), headers=headers)
    again = await registry.post("/contracts", json=terms(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = await registry.post("/contracts", json=terms(tech=1), headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:techex:problem:idempotency-key-reused"
    assert await fetchval(registry.db, "SELECT count(*) FROM contracts") == 1
    assert await outbox_types(registry.db) == ["cn.techex.contract.filed.v1"]
