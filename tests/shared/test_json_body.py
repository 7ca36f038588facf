"""Request bodies are UTF-8 JSON under application/json, or refused before any route runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel
from starlette.routing import Route

from shared.bounds import PositiveFen
from shared.json_body import JsonBodyMiddleware, is_json_media_type
from shared.problem_handlers import install_problem_handlers
from shared.problems import PROBLEM_MEDIA_TYPE

JSON = {"Content-Type": "application/json"}


class Bid(BaseModel):
    amount_fen: PositiveFen


def _app(seen: list[bytes]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(JsonBodyMiddleware, max_bytes=20_000)

    @app.post("/bids", status_code=201)
    async def bid(body: Bid) -> dict[str, int]:
        return {"amount_fen": body.amount_fen}

    @app.post("/submit")
    async def submit() -> dict[str, str]:
        return {"status": "submitted"}

    async def raw(request: Request) -> Response:  # reads the body itself, as the bid route
        seen.append(await request.body())
        return Response(status_code=204)

    app.router.routes.insert(0, Route("/raw", raw, methods=["POST"]))
    return app


@pytest.fixture
def seen() -> list[bytes]:
    return []


@pytest.fixture
async def client(seen) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(seen))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["type"] == f"urn:techex:problem:{slug}"
    return body


async def test_json_is_handed_on_as_it_came(client, seen):
    assert (await client.post("/bids", json={"amount_fen": 100})).json() == {"amount_fen": 100}
    raw = '{"amount_fen": 100, "note": "石墨烯"}'.encode()
    assert (await client.post("/raw", content=raw, headers=JSON)).status_code == 204
    assert seen == [raw]


@pytest.mark.parametrize("content_type", [
    "application/json; charset=utf-8", "application/json;charset=UTF-8",
    "application/merge-patch+json"])
async def test_json_media_types_are_accepted(client, content_type):
    r = await client.post("/bids", content=b'{"amount_fen": 1}',
                          headers={"Content-Type": content_type})
    assert r.status_code == 201


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/json; charset=latin-1", "application/jsonx", "json"])
async def test_a_body_of_another_media_type_is_415(client, seen, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/bids", "/raw"):
        r = await client.post(path, content=b'{"amount_fen": 1}', headers=headers)
        body = problem(r, 415, "unsupported-media-type")
        assert "application/json" in body["detail"]
    assert seen == []  # the route never ran


@pytest.mark.parametrize("raw", [
    b'{"amount_fen": 1', b'{"amount_fen": 1} {}', b'\xff\xfe{}', b'\xef\xbb\xbf{"amount_fen": 1}',
    b'{"amount_fen": NaN}', b'{"amount_fen": Infinity}', b'{"a": "\\ud800"}',
    '{"amount_fen": 1}'.encode("utf-16"), b"[" * 5000 + b"]" * 5000,
    b'{"amount_fen": ' + b"9" * 5000 + b"}"])
async def test_a_body_that_is_not_one_utf8_json_text_is_400(client, seen, raw):
    for path in ("/bids", "/raw"):
        body = problem(await client.post(path, content=raw, headers=JSON), 400,
                       "malformed-body")
        assert body["errors"][0]["field"] == "body"
    assert seen == []


async def test_a_body_over_the_limit_is_413(client, seen):
    big = b'{"note": "' + b"x" * 20_000 + b'"}'
    problem(await client.post("/raw", content=big, headers=JSON), 413, "body-too-large")

    async def chunks():  # no Content-Length: counted as it arrives
        for _ in range(3):
            yield b" " * 8000

    problem(await client.post("/raw", content=chunks(), headers=JSON), 413, "body-too-large")
    assert seen == []


async def test_a_request_without_a_body_passes_untouched(client):
    assert (await client.post("/submit")).json() == {"status": "submitted"}
    missing = problem(await client.post("/bids"), 422, "validation")
    assert missing["errors"][0]["field"] == "body"
    assert (await client.get("/bids")).status_code == 405


def test_json_media_type_rules():
    assert is_json_media_type("application/json")
    assert is_json_media_type("application/problem+json; charset=utf8")
    assert not is_json_media_type("")
    assert not is_json_media_type("application/xml")
