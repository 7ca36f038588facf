"""The OpenAPI documents name the roles of each operation and every problem it can answer."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from services.auction.api import create_app as auction_app
from services.listing.api import create_app as listing_app
from services.registry.api import create_app as registry_app
from services.settlement.api import create_app as settlement_app
from shared.auth import Principal, Role, require, require_region
from shared.openapi import install_openapi
from shared.problem_handlers import install_problem_handlers
from shared.problems import PROBLEM_MEDIA_TYPE, PROBLEM_RESPONSES

APPS = {"listing": listing_app, "auction": auction_app, "settlement": settlement_app,
        "registry": registry_app}


class Bid(BaseModel):
    amount_fen: int


def _document() -> dict:
    router = APIRouter(responses=PROBLEM_RESPONSES)

    @router.post("/bids")
    async def bid(body: Bid, _: Annotated[Principal, Depends(require(Role.BUYER))]) -> None:
        return None

    @router.get("/statistics")
    async def statistics(_: Annotated[Principal, Depends(require_region(Role.REGULATOR))],
                         region: str) -> None:
        return None

    @router.get("/public")
    async def public() -> None:
        return None

    app = FastAPI()
    install_problem_handlers(app)
    install_openapi(app, [router])
    app.include_router(router)
    return app.openapi()


def test_an_operation_names_the_roles_it_admits_admin_included():
    paths = _document()["paths"]
    assert paths["/bids"]["post"]["security"] == [{"bearer": ["admin", "buyer"]}]
    assert paths["/statistics"]["get"]["security"] == [{"bearer": ["admin", "regulator"]}]
    assert "security" not in paths["/public"]["get"]


def test_an_operation_with_a_body_documents_the_body_problems():
    paths = _document()["paths"]
    responses = paths["/bids"]["post"]["responses"]
    for status in ("400", "413", "415", "422"):
        assert PROBLEM_MEDIA_TYPE in responses[status]["content"], status
    assert "400" not in paths["/public"]["get"]["responses"]
    assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"


@pytest.fixture(scope="module", params=sorted(APPS))
def document(request) -> dict:
    return APPS[request.param]().openapi()


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_of_every_service_tells_its_roles_and_problems(document):
    for label, operation in _operations(document):
        responses = operation["responses"]
        for status, answer in responses.items():
            if status.startswith("4") or (status == "503" and label != "GET /readyz"):
                assert list(answer.get("content", {})) == [PROBLEM_MEDIA_TYPE], (label, status)
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= responses.keys(), label
        for requirement in operation.get("security", []):
            if not requirement:
                continue  # a public view: no token needed
            roles = requirement["bearer"]
            assert roles and set(roles) <= {r.value for r in Role} and "admin" in roles, label
    assert "HTTPValidationError" not in document.get("components", {}).get("schemas", {})


def test_the_auction_service_documents_503_where_it_forwards():
    paths = auction_app().openapi()["paths"]
    for path, method in (("/auctions/{auction_id}/bids", "post"), ("/auctions/{auction_id}", "get"),
                         ("/auctions/{auction_id}/proxy", "put"),
                         ("/auctions/{auction_id}/registrations", "post"),
                         ("/auctions/{auction_id}/stream", "get")):
        unavailable = paths[path][method]["responses"]["503"]
        assert "Retry-After" in unavailable["headers"], path
    assert "text/event-stream" in paths["/auctions/{auction_id}/stream"]["get"]["responses"][
        "200"]["content"]
