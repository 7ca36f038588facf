"""Rate limits: the token bucket, and the per-account, per-address and unauthenticated limits
on a small app with the services' own auth and problem handlers."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from shared.auth import Principal, Role, install_auth, mint_token, require
from shared.problem_handlers import install_problem_handlers
from shared.problems import PROBLEM_RESPONSES
from shared.ratelimit import (
    MAX_KEYS,
    RateLimited,
    TokenBuckets,
    install_rate_limits,
    per_account,
    per_address,
    rate_limited,
)
from shared.settings import CommonSettings


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_burst_then_the_rate_and_how_long_to_wait():
    now = FakeTime()
    bucket = TokenBuckets("bids", rate=2, burst=3, now=now)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.5)      # one token comes every 0.5 s
    assert bucket.take("b") == 0.0                      # another key has its own bucket
    now.t += 0.5
    assert bucket.take("a") == 0.0
    assert bucket.take("a") == pytest.approx(0.5)
    now.t += 60                                          # refills up to the burst, no more
    assert [bucket.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert bucket.take("a") > 0


def test_a_refused_request_does_not_cost_a_token():
    now = FakeTime()
    bucket = TokenBuckets("search", rate=1, burst=1, now=now)
    assert bucket.take("a") == 0.0
    for _ in range(50):  # a client hammering while refused does not push its wait further
        assert bucket.take("a") <= 1.0
    now.t += 1.0
    assert bucket.take("a") == 0.0


def test_check_raises_a_429_with_retry_after_in_whole_seconds():
    bucket = TokenBuckets("bids", rate=0.25, burst=1, who="account {}", now=FakeTime())
    bucket.check("a")
    with pytest.raises(RateLimited) as refused:
        bucket.check("a")
    problem = refused.value
    assert problem.status == 429 and problem.type == "urn:techex:problem:rate-limited"
    assert problem.headers == {"Retry-After": "4"}
    assert problem.extensions == {"limit": "bids", "retry_after_seconds": 4}
    assert "account a" in problem.detail


def test_an_unknown_limit_is_refused_when_the_route_is_made():
    with pytest.raises(ValueError, match="no rate limit 'bid'"):
        per_account("bid")
    with pytest.raises(ValueError):
        per_address("everyone")


def test_rate_zero_is_no_limit():
    bucket = TokenBuckets("public", rate=0, burst=1, now=FakeTime())
    assert all(bucket.take("a") == 0.0 for _ in range(1000))
    with pytest.raises(ValueError):
        TokenBuckets("x", rate=1, burst=0)


def test_memory_is_bounded_by_forgetting_full_buckets():
    now = FakeTime()
    bucket = TokenBuckets("public", rate=10, burst=5, max_keys=100, now=now)
    for i in range(100):
        bucket.take(f"idle-{i}")
    now.t += 1  # full again after 0.5 s: nothing to remember
    bucket.take("busy")
    bucket.take("busy")
    assert list(bucket._buckets) == ["busy"]
    assert bucket.take("busy") == 0.0  # its state survived: 2 of 5 taken, third now
    assert MAX_KEYS >= 10_000


# -- on an app -------------------------------------------------------------------------------

def _app(**limits) -> tuple[FastAPI, CommonSettings]:
    common = CommonSettings(**limits)
    app = FastAPI()
    install_problem_handlers(app)
    install_auth(app, common)
    router = APIRouter(responses=PROBLEM_RESPONSES)

    @router.post("/bids", dependencies=[per_account("bids")], responses=rate_limited("bids"))
    async def bid(_: Annotated[Principal, Depends(require(Role.BUYER))]) -> dict:
        return {"ok": True}

    @router.get("/open", dependencies=[per_address("public")], responses=rate_limited("public"))
    async def public() -> dict:
        return {"ok": True}

    @router.get("/mine", dependencies=[per_account("search")], responses=rate_limited("search"))
    async def mine() -> dict:
        return {"ok": True}

    @router.get("/plain")
    async def plain() -> dict:
        return {"ok": True}

    app.include_router(router)
    install_rate_limits(app, common, "probe")
    return app, common


def _client(app: FastAPI, address: str = "10.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://probe")


def _auth(common: CommonSettings, subject: str) -> dict:
    return {"Authorization": f"Bearer {mint_token(common, subject, Role.BUYER, '230100')}"}


async def test_per_account_limits_each_account_on_its_own():
    app, common = _app(bid_rate=0.01, bid_burst=2)
    async with _client(app) as client:
        a, b = _auth(common, "a"), _auth(common, "b")
        assert [(await client.post("/bids", headers=a)).status_code for _ in range(3)] == [
            200, 200, 429]
        refused = await client.post("/bids", headers=a)
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["type"] == "urn:techex:problem:rate-limited"
        assert refused.json()["limit"] == "bids"
        assert (await client.post("/bids", headers=b)).status_code == 200


async def test_per_address_limits_each_address():
    app, _ = _app(public_rate=0.01, public_burst=1)
    async with _client(app, "10.0.0.1") as one, _client(app, "10.0.0.2") as two:
        assert (await one.get("/open")).status_code == 200
        assert (await one.get("/open")).status_code == 429
        assert (await two.get("/open")).status_code == 200
        assert (await one.get("/plain")).status_code == 200  # unlimited routes stay open


async def test_bad_tokens_from_one_address_are_cut_off_but_valid_ones_are_not():
    app, common = _app(unauthenticated_rate=0.01, unauthenticated_burst=3)
    async with _client(app, "10.0.0.9") as client, _client(app, "10.0.0.8") as other:
        forged = {"Authorization": "Bearer not.a.token"}
        statuses = [(await client.post("/bids", headers=forged)).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        assert (await client.post("/bids", headers=forged)).status_code == 429
        assert (await client.post("/bids")).status_code == 429   # no token at all either
        assert (await client.get("/mine", headers=forged)).status_code == 429
        assert (await client.post("/bids", headers=_auth(common, "a"))).status_code == 200
        assert (await other.post("/bids", headers=forged)).status_code == 401


def test_limited_routes_document_429_with_retry_after():
    app, _ = _app()
    paths = app.openapi()["paths"]
    for path, method, limit in (("/bids", "post", "bids"), ("/open", "get", "public"),
                                ("/mine", "get", "search")):
        documented = paths[path][method]["responses"]["429"]
        assert limit in documented["description"]
        assert documented["headers"]["Retry-After"]["schema"]["type"] == "integer"
        assert "application/problem+json" in documented["content"]
    assert "'public'" not in paths["/plain"]["get"]["responses"]["429"]["description"]
