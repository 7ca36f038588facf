from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from shared.db import create_pool
from shared.problem_handlers import install_problem_handlers
from shared.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_RESPONSES,
    Conflict,
    FieldError,
    NotFound,
    Problem,
    Unauthorized,
    ValidationFailed,
    conflict,
    forbidden,
    not_found,
    unauthorized,
    validation,
)
from shared.regions import RegionCode
from shared.tracing import TraceMiddleware, trace_id_of
from tests.support.auction_processes import free_port


class ListingClosed(Problem):
    slug = "listing-closed"
    status = 409
    title = "Listing is closed"


class Bid(BaseModel):
    amount: Decimal = Field(gt=0)
    region: RegionCode


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(TraceMiddleware)

    @app.post("/bids", responses=PROBLEM_RESPONSES)
    async def bid(body: Bid) -> dict[str, str]:
        return {"amount": str(body.amount)}

    @app.get("/listings/{listing_id}")
    async def listing(listing_id: int) -> None:
        raise ListingClosed(
            f"Listing {listing_id} closed at 10:00.",
            listing_id=listing_id,
            reserve_price=Decimal("1200.50"),
        )

    @app.get("/http-error")
    async def http_error() -> None:
        raise HTTPException(status_code=409, detail="Already registered.")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret connection string postgres://u:p@db")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: Starlette re-raises unhandled errors after answering them.
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["status"] == status
    return body


def test_to_dict_holds_standard_and_extension_members() -> None:
    problem = ListingClosed("Listing 7 closed.", listing_id=7)
    assert problem.to_dict() == {
        "type": "urn:techex:problem:listing-closed",
        "title": "Listing is closed",
        "status": 409,
        "detail": "Listing 7 closed.",
        "listing_id": 7,
    }
    assert str(problem) == "Listing 7 closed."
    assert isinstance(problem, Problem)


def test_common_problems_have_their_status_and_type() -> None:
    errors = [{"field": "body.title", "message": "Field required"}]
    assert ValidationFailed(errors=errors).to_dict()["errors"] == errors
    assert (NotFound().status, NotFound().type) == (404, "urn:techex:problem:not-found")
    assert (Conflict().status, Conflict().type) == (409, "urn:techex:problem:conflict")
    assert "detail" not in NotFound().to_dict()


def test_factories_build_the_common_problems() -> None:
    errors: list[FieldError] = [{"field": "query.limit", "message": "too large"}]
    assert validation("Bad.", errors).to_dict()["errors"] == errors
    assert isinstance(unauthorized("Expired."), Unauthorized)
    assert "WWW-Authenticate" in unauthorized("Expired.").headers
    assert (forbidden("No.").status, forbidden("No.").type) == (403, "urn:techex:problem:forbidden")
    assert isinstance(not_found("No listing 7."), NotFound)
    assert conflict("Taken.").to_dict()["detail"] == "Taken."


def test_an_instance_can_override_the_class_defaults() -> None:
    problem = Problem("Try later.", slug="maintenance", status=503, title="Maintenance")
    assert problem.to_dict()["type"] == "urn:techex:problem:maintenance"
    assert problem.status == 503
    assert Problem.status == 500


def test_unauthorized_sets_a_bearer_challenge() -> None:
    assert Unauthorized("Token expired.").headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="Token expired."'
    )
    assert Unauthorized("No token.", error=None).headers["WWW-Authenticate"] == "Bearer"


def test_bad_slugs_statuses_and_members_are_refused() -> None:
    with pytest.raises(ValueError, match="slug"):

        class _Bad(Problem):
            slug = "Not A Slug"

    with pytest.raises(ValueError, match="status"):
        Problem(status=200)
    with pytest.raises(ValueError, match="redefine"):
        Problem(type="x")


async def test_raised_problem_becomes_problem_json(client: httpx.AsyncClient) -> None:
    body = _problem(await client.get("/listings/7"), 409)
    assert body == {
        "type": "urn:techex:problem:listing-closed",
        "title": "Listing is closed",
        "status": 409,
        "detail": "Listing 7 closed at 10:00.",
        "instance": "/listings/7",
        "listing_id": 7,
        "reserve_price": "1200.50",
    }


async def test_invalid_fields_are_listed_with_their_path(client: httpx.AsyncClient) -> None:
    body = _problem(await client.post("/bids", json={"amount": "-5", "region": "230100"}), 422)
    assert body["type"] == "urn:techex:problem:validation"
    (error,) = body["errors"]
    assert error["field"] == "body.amount"
    assert "greater than 0" in error["message"]


async def test_every_invalid_field_is_reported(client: httpx.AsyncClient) -> None:
    body = _problem(await client.post("/bids", json={}), 422)
    assert {error["field"] for error in body["errors"]} == {"body.amount", "body.region"}
    assert body["detail"] == "2 request fields are invalid"


async def test_bad_region_code_names_the_field(client: httpx.AsyncClient) -> None:
    body = _problem(await client.post("/bids", json={"amount": "5", "region": "230012"}), 422)
    (error,) = body["errors"]
    assert error["field"] == "body.region"
    assert "without a city" in error["message"]


async def test_malformed_json_is_a_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/bids", content=b'{"amount": 5,', headers={"content-type": "application/json"}
    )
    problem = _problem(response, 400)
    assert problem["type"] == "urn:techex:problem:malformed-body"
    (error,) = problem["errors"]
    assert error["field"] == "body"
    assert error["message"].startswith("JSON decode error")


async def test_bad_path_parameter_is_a_path_error(client: httpx.AsyncClient) -> None:
    (error,) = _problem(await client.get("/listings/seven"), 422)["errors"]
    assert error["field"] == "path.listing_id"


async def test_http_exceptions_keep_their_status(client: httpx.AsyncClient) -> None:
    body = _problem(await client.get("/http-error"), 409)
    assert body["type"] == "urn:techex:problem:conflict"
    assert body["detail"] == "Already registered."

    missing = _problem(await client.get("/nowhere"), 404)
    assert missing["type"] == "urn:techex:problem:not-found"

    response = await client.delete("/bids")
    assert _problem(response, 405)["type"] == "urn:techex:problem:method-not-allowed"
    assert response.headers["allow"] == "POST"


async def test_unhandled_errors_are_logged_but_not_leaked(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="shared.problem_handlers"):
        response = await client.get("/boom")

    body = _problem(response, 500)
    assert body["type"] == "urn:techex:problem:internal"
    assert "postgres" not in response.text
    assert "Traceback" not in response.text
    assert body["trace_id"] == trace_id_of(response.headers["traceparent"])
    (record,) = [r for r in caplog.records if r.name == "shared.problem_handlers"]
    assert record.exc_info is not None
    assert "/boom" in record.getMessage()


def test_openapi_documents_problem_responses() -> None:
    operation = _app().openapi()["paths"]["/bids"]["post"]
    for status in ("401", "403", "404", "409", "422", "503"):
        content = operation["responses"][status]["content"]
        assert list(content) == [PROBLEM_MEDIA_TYPE]
        assert "errors" in content[PROBLEM_MEDIA_TYPE]["schema"]["properties"]


# -- the database going away: 503 with Retry-After, from shared code ------------------------------

UNAVAILABLE = "urn:techex:problem:database-unavailable"


def _database_app(pool: asyncpg.Pool, refused_url: str) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(TraceMiddleware)

    @app.get("/slow")
    async def slow() -> None:
        await pool.execute("SELECT pg_sleep(30)")

    @app.get("/pooled")
    async def pooled() -> int:
        return await pool.fetchval("SELECT 1")

    @app.get("/refused")
    async def refused() -> None:
        await asyncpg.connect(refused_url)

    @app.get("/misused")
    async def misused() -> None:
        raise asyncpg.InterfaceError("cannot perform operation: another operation is in progress")

    class Session:  # a middleware that reaches the database before the routes do
        def __init__(self, app) -> None:
            self.app = app

        async def __call__(self, scope, receive, send) -> None:
            if scope["type"] == "http" and scope["path"] == "/in-middleware":
                await asyncpg.connect(refused_url)
            await self.app(scope, receive, send)

    app.add_middleware(Session)
    return app


@pytest.fixture
async def database(database_url) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool]]:
    pool = await create_pool(database_url, min_size=1, max_size=1, acquire_timeout=0.3)
    transport = httpx.ASGITransport(
        app=_database_app(pool, f"postgresql://techex@127.0.0.1:{free_port()}/none"),
        raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, pool
    finally:
        await pool.close()


def _unavailable(response: httpx.Response) -> dict[str, object]:
    body = _problem(response, 503)
    assert body["type"] == UNAVAILABLE
    assert response.headers["retry-after"] == "5"
    return body


async def test_a_connection_the_server_ends_mid_statement_is_a_503(database, database_url):
    client, _ = database
    request = asyncio.create_task(client.get("/slow"))
    admin = await asyncpg.connect(database_url)
    try:
        for _ in range(100):  # the server ends the statement's session, as at a shutdown
            if await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE query = 'SELECT pg_sleep(30)' AND pid <> pg_backend_pid()"):
                break
            await asyncio.sleep(0.05)
        _unavailable(await asyncio.wait_for(request, 10))
    finally:
        await admin.close()
    assert (await client.get("/pooled")).json() == 1  # the pool reconnects by itself


async def test_waiting_for_a_connection_is_bounded_by_the_acquire_timeout(database):
    client, pool = database
    async with pool.acquire():  # the only connection is taken
        started = asyncio.get_running_loop().time()
        _unavailable(await client.get("/pooled"))
        assert asyncio.get_running_loop().time() - started < 3
    assert (await client.get("/pooled")).status_code == 200


async def test_a_refused_connection_is_a_503_in_a_route_and_in_a_middleware(database):
    client, _ = database
    _unavailable(await client.get("/refused"))
    _unavailable(await client.get("/in-middleware"))


async def test_other_interface_errors_stay_internal_errors(database):
    client, _ = database
    assert _problem(await client.get("/misused"), 500)["type"] == "urn:techex:problem:internal"
