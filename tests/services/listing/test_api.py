"""The listing service's HTTP API over its real database and Kafka."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from services.listing.api import create_app
from services.listing.config import ListingSettings
from shared.auth import Role
from tests.support.listing import achievement
from tests.support.services import bearer, retried, running

DRAFT = achievement()


@pytest.fixture
async def listing(database_url, common):
    app = create_app(ListingSettings(database_url=database_url), common)
    async with running(app) as client:
        client.db = database_url
        yield client


async def _counts(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        return (await conn.fetchval("SELECT count(*) FROM achievements"),
                await conn.fetchval("SELECT count(*) FROM outbox"))
    finally:
        await conn.close()


async def test_seller_files_a_draft_and_reads_it_back(listing, common):
    headers = bearer(common, Role.SELLER, "230100", "hit-university")
    created = await listing.post("/achievements", json=DRAFT, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "draft" and body["seller_id"] == "hit-university"
    assert body["title"] == DRAFT["title"]
    got = await listing.get(f"/achievements/{body['id']}", headers=headers)
    assert got.status_code == 200 and got.json()["id"] == body["id"]
    conn = await asyncpg.connect(listing.db)
    try:
        events = await conn.fetch("SELECT type, aggregateid, region FROM outbox")
    finally:
        await conn.close()
    # The relay may already have sent it; if not, the row names the right event.
    for e in events:
        assert (e["type"], e["aggregateid"], e["region"]) == (
            "cn.techex.listing.created.v1", body["id"], "230102")
    assert body["ip_numbers"] == ["ZL201510012345.3"] and body["trl"] == 6


async def test_idempotency_key_returns_the_first_result(listing, common):
    headers = {**bearer(common, Role.SELLER, "230100"), "Idempotency-Key": "k-1"}
    first = await listing.post("/achievements", json=DRAFT, headers=headers)
    again = await listing.post("/achievements", json=DRAFT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert (await _counts(listing.db))[0] == 1
    other = await listing.post("/achievements", json={**DRAFT, "title": "另一项"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:techex:problem:idempotency-key-reused"
    assert (await _counts(listing.db))[0] == 1


async def test_a_transition_and_its_refusal_are_replayed_to_a_retry(listing, common):
    seller = bearer(common, Role.SELLER, "230100", "hit-university")
    operator = bearer(common, Role.OPERATOR, "230100")
    draft = (await listing.post("/achievements", json=DRAFT, headers=seller)).json()
    path = f"/achievements/{draft['id']}"
    # Approving a draft nobody submitted is refused; the refusal is the key's answer.
    early = await retried(listing, "POST", f"{path}/approve", key="approve-1",
                          headers=operator)
    assert early.json()["type"] == "urn:techex:problem:listing-illegal-transition"
    submitted = await retried(listing, "POST", f"{path}/submit", key="submit-1",
                              headers=seller)
    assert submitted.json()["status"] == "submitted"
    await retried(listing, "POST", f"{path}/review", key="review-1", headers=operator)
    approved = await retried(listing, "POST", f"{path}/approve", key="approve-2",
                             headers=operator)
    assert approved.json()["status"] == "published"
    # The refused key still answers its refusal, though approving would be a no-op now.
    again = await listing.post(f"{path}/approve",
                               headers={**operator, "Idempotency-Key": "approve-1"})
    assert (again.status_code, again.content) == (409, early.content)


async def test_unknown_achievement_is_a_404_problem(listing, common):
    r = await listing.get(f"/achievements/{uuid.uuid4()}",
                          headers=bearer(common, Role.BUYER, "230000"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "urn:techex:problem:not-found"


@pytest.mark.parametrize(
    ("headers_of", "body", "status", "problem"),
    [
        (lambda c: {}, DRAFT, 401, "unauthorized"),
        (lambda c: {"Authorization": "Bearer not-a-jwt"}, DRAFT, 401, "unauthorized"),
        (lambda c: bearer(c, Role.BUYER, "230100"), DRAFT, 403, "forbidden-role"),
        (lambda c: bearer(c, Role.SELLER, "230200"), DRAFT, 403, "forbidden-region"),
        (lambda c: bearer(c, Role.SELLER, "230100"), {**DRAFT, "region": "2301"}, 422,
         "validation"),
        (lambda c: bearer(c, Role.SELLER, "230100"), {**DRAFT, "title": ""}, 422, "validation"),
        (lambda c: bearer(c, Role.SELLER, "230100"), {"abstract": "x"}, 422, "validation"),
        (lambda c: bearer(c, Role.SELLER, "230100"), {**DRAFT, "region": "230199"}, 422,
         "validation"),
        (lambda c: bearer(c, Role.SELLER, "230100"), {**DRAFT, "trl": 10}, 422, "validation"),
        (lambda c: bearer(c, Role.SELLER, "230100"), {**DRAFT, "trl": 0}, 422, "validation"),
        (lambda c: bearer(c, Role.SELLER, "230100"),
         {**DRAFT, "ip_numbers": ["ZL201510012345.6"]}, 422, "validation"),
        (lambda c: bearer(c, Role.SELLER, "230100"), {**DRAFT, "reference_price_fen": -1}, 422,
         "validation"),
        (lambda c: bearer(c, Role.SELLER, "230100"), {**DRAFT, "reference_price_fen": 1.5},
         422, "validation"),
    ],
    ids=["no-token", "garbage-token", "wrong-role", "other-region", "bad-region", "empty-title",
         "missing-fields", "unknown-region", "trl-10", "trl-0", "patent-check-digit",
         "negative-price", "fractional-price"],
)
async def test_bad_requests_get_problem_json_and_change_nothing(
    listing, common, headers_of, body, status, problem
):
    r = await listing.post("/achievements", json=body, headers=headers_of(common))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["type"] == f"urn:techex:problem:{problem}"
    assert doc["status"] == status
    if status == 422:
        assert doc["errors"] and all(e["field"].startswith("body") for e in doc["errors"])
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert await _counts(listing.db) == (0, 0)


async def test_malformed_json_body_is_a_400_problem(listing, common):
    headers = {**bearer(common, Role.SELLER, "230100"), "Content-Type": "application/json"}
    r = await listing.post("/achievements", content=b"{\"title\": ", headers=headers)
    assert r.status_code == 400
    assert r.json()["type"] == "urn:techex:problem:malformed-body"
    assert await _counts(listing.db) == (0, 0)


async def test_health_ready_and_metrics(listing):
    assert (await listing.get("/healthz")).json()["status"] == "ok"
    ready = await listing.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"},
                            "details": {"kafka": "ok"}}
    await listing.get("/healthz")
    metrics = (await listing.get("/metrics")).text
    assert ('techex_http_requests_total{method="GET",route="/healthz",service="listing",'
            'status="200"}') in metrics
    assert "techex_outbox_backlog" in metrics
    assert 'techex_kafka_reachable{service="listing"} 1.0' in metrics


async def test_the_callers_trace_is_carried_into_the_event(database_url, common):
    from shared.tracing import trace_id_of

    app = create_app(ListingSettings(database_url=database_url), common, run_background=False)
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with running(app) as client:
        headers = {**bearer(common, Role.SELLER, "230100"), "traceparent": trace}
        r = await client.post("/achievements", json=DRAFT, headers=headers)
        assert r.status_code == 201
        assert trace_id_of(r.headers["traceparent"]) == trace_id_of(trace)
    conn = await asyncpg.connect(database_url)
    try:
        carried = await conn.fetchval("SELECT traceparent FROM outbox")
    finally:
        await conn.close()
    assert trace_id_of(carried) == "4bf92f3577b34da6a3ce929d0e0e4736"
