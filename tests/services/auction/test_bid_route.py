"""The bid's own route answers as the documented one: the same checks and problem documents."""

from __future__ import annotations

import uuid

import pytest

from services.auction.api import create_app
from services.auction.config import AuctionSettings
from services.auction.routes import bids as bid_route
from shared.auth import Role
from tests.support.services import bearer, running


@pytest.fixture
async def client(database_url, common, monkeypatch):
    calls = []
    real = bid_route.principal_with_role

    async def spy(request, allowed):
        calls.append(request.url.path)
        return await real(request, allowed)

    monkeypatch.setattr(bid_route, "principal_with_role", spy)
    async with running(create_app(AuctionSettings(database_url=database_url), common)) as c:
        c.calls = calls
        yield c


async def test_bids_take_the_fast_route_and_it_checks_what_the_documented_one_does(
        client, common):
    path = f"/auctions/{uuid.uuid4()}/bids"
    buyer = bearer(common, Role.BUYER, "230100", "b-1")

    unknown = await client.post(path, json={"amount_fen": 100}, headers=buyer)
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "urn:techex:problem:auction-not-found"
    assert client.calls == [path]  # served by the fast route

    no_token = await client.post(path, json={"amount_fen": 100})
    assert no_token.status_code == 401
    assert no_token.headers["content-type"].startswith("application/problem+json")
    basic = await client.post(path, json={"amount_fen": 100},
                              headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401 and "Bearer" in basic.json()["detail"]
    seller = await client.post(path, json={"amount_fen": 100},
                               headers=bearer(common, Role.SELLER, "230100"))
    assert seller.status_code == 403
    assert seller.json()["type"] == "urn:techex:problem:forbidden-role"

    for body, field in (({"amount_fen": "abc"}, "body.amount_fen"),
                        ({"amount_fen": -5}, "body.amount_fen"),
                        ({}, "body.amount_fen")):
        bad = await client.post(path, json=body, headers=buyer)
        assert bad.status_code == 422, bad.text
        assert bad.json()["type"] == "urn:techex:problem:validation"
        assert [e["field"] for e in bad.json()["errors"]] == [field]
    garbled = await client.post(path, content=b"{not json", headers={
        **buyer, "Content-Type": "application/json"})
    assert garbled.status_code == 400
    assert garbled.json()["type"] == "urn:techex:problem:malformed-body"
    assert garbled.json()["errors"][0]["field"].startswith("body")
    as_text = await client.post(path, content=b'{"amount_fen": 100}', headers={
        **buyer, "Content-Type": "text/plain"})
    assert as_text.status_code == 415
    assert as_text.json()["type"] == "urn:techex:problem:unsupported-media-type"
    empty = await client.post(path, headers=buyer)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"

    not_a_uuid = await client.post("/auctions/42/bids", json={"amount_fen": 100}, headers=buyer)
    assert not_a_uuid.status_code == 422  # the documented route's path validation

    metrics = (await client.get("/metrics")).text
    assert 'route="/auctions/{auction_id}/bids"' in metrics
    assert "{auction_id:uuid}" not in metrics
