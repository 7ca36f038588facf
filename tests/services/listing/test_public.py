"""The listing service's public API (issue 14): published achievements and open demands for
anyone, without a token, over the real database; nothing private leaves, and the answers
are exactly the fields of the contract (/work/notes/public-api.md)."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import BaseModel

from services.listing import schemas
from services.listing.api import create_app
from services.listing.config import ListingSettings
from shared.auth import Role
from shared.problems import PROBLEM_MEDIA_TYPE
from tests.services.listing.test_search import add_demand, load
from tests.support.listing import achievement, demand
from tests.support.services import bearer, running

# The contract's fields, model by model: a public answer has these keys and no other.
ACHIEVEMENT_HIT = {"id", "title", "abstract", "field", "region", "trl", "ip_type",
                   "pricing_route", "reference_price_fen", "status", "published_at",
                   "highlight", "score", "origin", "origin_url"}
ACHIEVEMENT = {"id", "title", "abstract", "field", "industry", "keywords", "ip_type",
               "ip_numbers", "trl", "holders", "inventors", "transfer_mode", "pricing_route",
               "reference_price_fen", "region", "seller_id", "status", "published_at",
               "expires_at"}
DEMAND_HIT = {"id", "title", "description", "field", "region", "mode", "min_trl", "budget_fen",
              "deadline", "status", "created_at"}
DEMAND = {"id", "enterprise_id", "title", "description", "field", "keywords", "region", "mode",
          "budget_fen", "min_trl", "deadline", "status", "created_at", "proposals_count"}
PAGE = {"items", "next_cursor"}
HOLDER = {"name", "kind"}
ORIGIN = {"alias", "region", "name"}
ALLOWED = {"PublicAchievementHit": ACHIEVEMENT_HIT, "PublicAchievement": ACHIEVEMENT,
           "PublicDemandHit": DEMAND_HIT, "PublicDemand": DEMAND,
           "PublicAchievementPage": PAGE, "PublicDemandPage": PAGE, "PublicHolder": HOLDER,
           "PublicOrigin": ORIGIN}
PRIVATE = {"reject_reason", "security_review", "dual_use", "public_welfare", "cross_border",
           "created_by", "created_at", "updated_at", "awarded_proposal", "match", "words"}


def _settings(common, **limits: Any):
    return common.model_copy(update={"public_rate": 1000.0, "public_burst": 10_000, **limits})


@pytest.fixture
async def public(database_url, common):
    """A client without a token; ``ids`` names the search tests' catalogue of listings."""
    app = create_app(ListingSettings(database_url=database_url), _settings(common),
                     run_background=False)
    async with running(app) as client:
        conn = await asyncpg.connect(database_url)
        try:
            client.ids = await load(conn)
        finally:
            await conn.close()
        client.db = database_url
        client.common = common
        yield client


async def _sql(client, statement: str, *args: Any) -> None:
    conn = await asyncpg.connect(client.db)
    try:
        await conn.execute(statement, *args)
    finally:
        await conn.close()


def _ok(r: httpx.Response) -> dict:
    assert r.status_code == 200, r.text
    return r.json()


def _is_not_found(r: httpx.Response) -> None:
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert r.json()["type"] == "urn:techex:problem:not-found"


async def _file(client, common, stage: str, **overrides: Any) -> str:
    """An achievement filed through the private API and taken to ``stage``."""
    seller = bearer(common, Role.SELLER, "230100", "hit-university")
    operator = bearer(common, Role.OPERATOR, "230100")
    r = await client.post("/achievements", json=achievement(**overrides), headers=seller)
    assert r.status_code == 201, r.text
    listing_id = r.json()["id"]
    path = f"/achievements/{listing_id}"

    async def step(action: str, headers: dict, **kwargs: Any) -> None:
        answer = await client.post(f"{path}/{action}", headers=headers, **kwargs)
        assert answer.status_code == 200, answer.text

    if stage == "withdrawn":
        await step("withdraw", seller)
    if stage in ("draft", "withdrawn"):
        return listing_id
    await step("submit", seller)
    if stage == "submitted":
        return listing_id
    await step("review", operator)
    if stage == "under_review":
        return listing_id
    if stage == "rejected":
        await step("reject", operator, json={"reason": "知识产权证明材料不全"})
        return listing_id
    if overrides.get("cross_border"):
        await step("security-review", bearer(common, Role.REGULATOR, "230000"),
                   json={"outcome": "cleared", "reference": "黑科审〔2026〕12号"})
    await step("approve", operator)
    return listing_id


async def _everything(client, path: str, params: list[tuple[str, str]]) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        page = _ok(await client.get(path, params=params + ([("cursor", cursor)] if cursor
                                                            else [])))
        assert set(page) == PAGE
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


# -- achievements ------------------------------------------------------------------------------


async def test_a_published_achievement_answers_without_a_token_and_only_public_fields(
        public, common):
    listing_id = await _file(public, common, "published", cross_border=True, dual_use=True,
                             title="石墨烯海水淡化膜出口许可技术")
    assert "authorization" not in public.headers
    detail = _ok(await public.get(f"/public/achievements/{listing_id}"))
    assert set(detail) == ACHIEVEMENT
    assert detail["status"] == "published" and detail["seller_id"] == "hit-university"
    assert detail["holders"] == [{"name": "哈尔滨工业大学", "kind": "university"}]
    assert detail["published_at"].endswith("Z") and detail["expires_at"].endswith("Z")
    private = _ok(await public.get(f"/achievements/{listing_id}",
                                   headers=bearer(common, Role.OPERATOR, "230100")))
    assert private["security_review"] and private["dual_use"] is True  # there is a secret
    assert not PRIVATE & set(detail)
    assert {k: detail[k] for k in ACHIEVEMENT - {"published_at", "expires_at"}} == {
        k: private[k] for k in ACHIEVEMENT - {"published_at", "expires_at"}}

    page = _ok(await public.get("/public/achievements", params={"q": "石墨烯 海水淡化"}))
    assert set(page) == PAGE
    hit = next(h for h in page["items"] if h["id"] == listing_id)
    assert set(hit) == ACHIEVEMENT_HIT
    assert "石墨烯" in hit["highlight"] and 0 <= hit["score"] < 1
    assert not PRIVATE & set(hit)


async def test_search_graphene_finds_published_ones_and_only_public_statuses(public, common):
    ids = {str(v): k for k, v in public.ids.items()}
    found = await _everything(public, "/public/achievements", [("q", "石墨烯"), ("limit", "7")])
    names = [ids[h["id"]] for h in found]
    assert "graphene_coating" in names and "in_transaction" in names
    assert not {"draft", "withdrawn"} & set(names)
    assert len(names) == len(set(names))
    assert {h["status"] for h in found} <= {"published", "in_transaction", "traded"}
    # The same listings as the private search over the public statuses, in the same order.
    operator = bearer(common, Role.OPERATOR, "230000")
    params = [("q", "石墨烯"), ("status", "published"), ("status", "in_transaction"),
              ("status", "traded"), ("limit", "100")]
    private = _ok(await public.get("/search/achievements", params=params, headers=operator))
    assert [h["id"] for h in found] == [h["id"] for h in private["items"]]


async def test_achievements_never_published_or_taken_back_are_not_found(public, common):
    hidden = {stage: await _file(public, common, stage, title=f"石墨烯防腐{stage}")
              for stage in ("draft", "submitted", "under_review", "rejected", "withdrawn")}
    for stage, listing_id in hidden.items():
        _is_not_found(await public.get(f"/public/achievements/{listing_id}"))
        r = await public.get(f"/achievements/{listing_id}",
                             headers=bearer(common, Role.OPERATOR, "230100"))
        assert r.json()["status"] == stage  # it is there, just not public
    _is_not_found(await public.get(f"/public/achievements/{uuid.uuid4()}"))
    listed = await _everything(public, "/public/achievements", [("q", "石墨烯"), ("limit", "100")])
    assert not set(hidden.values()) & {h["id"] for h in listed}
    # Seeded straight into the table: a draft and a withdrawn listing are not found either.
    for name in ("draft", "withdrawn"):
        _is_not_found(await public.get(f"/public/achievements/{public.ids[name]}"))


async def test_an_expired_or_traded_achievement_is_readable_and_only_traded_is_listed(public):
    expired, traded = public.ids["graphene_film"], public.ids["graphene_hebei"]
    await _sql(public, "UPDATE achievements SET status = 'expired' WHERE id = $1", expired)
    await _sql(public, "UPDATE achievements SET status = 'traded' WHERE id = $1", traded)
    assert _ok(await public.get(f"/public/achievements/{expired}"))["status"] == "expired"
    assert _ok(await public.get(f"/public/achievements/{traded}"))["status"] == "traded"
    listed = {h["id"] for h in await _everything(public, "/public/achievements",
                                                  [("q", "石墨烯"), ("limit", "100")])}
    assert str(traded) in listed and str(expired) not in listed


async def test_filters_and_cursor_pages_of_the_public_search(public):
    ids = {str(v): k for k, v in public.ids.items()}
    params = [("q", "污水处理"), ("region", "230000"), ("field", "environment"),
              ("field", "aerospace"), ("limit", "2")]
    first = _ok(await public.get("/public/achievements", params=params))
    assert len(first["items"]) == 2 and first["next_cursor"]
    every = await _everything(public, "/public/achievements", params)
    assert [h["id"] for h in every[:2]] == [h["id"] for h in first["items"]]
    names = {ids[h["id"]] for h in every}
    assert names == {"sewage_county", "sewage_city", "sewage_other_city", "satellite_sewage"}
    # Newest first, page by page, over the listings holding every word.
    newest = await _everything(public, "/public/achievements",
                               [("q", "石墨烯"), ("sort", "newest"), ("limit", "4")])
    times = [h["published_at"] for h in newest]
    assert times == sorted(times, reverse=True) and len(newest) > 4
    assert all(h["score"] is None for h in newest)
    assert len({h["id"] for h in newest}) == len(newest)
    ranked = await _everything(public, "/public/achievements", [("q", "石墨烯"), ("limit", "100")])
    assert {h["id"] for h in ranked} >= {h["id"] for h in newest}
    # Without text, newest first, the filters alone.
    priced = await _everything(public, "/public/achievements",
                               [("price_min_fen", "40000000"), ("price_max_fen", "60000000"),
                                ("trl_min", "5"), ("ip_type", "patent_invention"),
                                ("pricing_route", "listing"), ("limit", "1")])
    assert {ids[h["id"]] for h in priced} == {"graphene_coating", "sewage_other_city",
                                             "sewage_hebei", "in_transaction"}


async def test_a_cursor_of_another_query_is_a_422(public):
    page = _ok(await public.get("/public/achievements", params={"q": "石墨烯", "limit": 2}))
    r = await public.get("/public/achievements",
                         params={"q": "污水处理", "limit": 2, "cursor": page["next_cursor"]})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert r.json()["type"] == "urn:techex:problem:listing-search-bad-cursor"
    newest = await public.get("/public/achievements", params={
        "q": "石墨烯", "limit": 2, "sort": "newest", "cursor": page["next_cursor"]})
    assert newest.status_code == 422


# -- demands -----------------------------------------------------------------------------------


async def test_open_demands_are_listed_closed_and_awarded_ones_only_readable(public, common):
    enterprise = bearer(common, Role.BUYER, "130100", "hebei-steel")
    provider = bearer(common, Role.SELLER, "230100", "hit-university")

    async def post(title: str) -> str:
        r = await public.post("/demands", json=demand(title=title), headers=enterprise)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    open_id, closed_id, awarded_id = (await post("石墨烯防腐涂层需求"),
                                      await post("石墨烯导热需求（已关闭）"),
                                      await post("石墨烯电池需求（已揭榜）"))
    assert (await public.post(f"/demands/{closed_id}/close", headers=enterprise)
            ).status_code == 200
    proposal = await public.post(f"/demands/{awarded_id}/proposals",
                                 json={"summary": "石墨烯负极材料方案"}, headers=provider)
    assert proposal.status_code == 201, proposal.text
    assert (await public.post(f"/demands/{awarded_id}/award",
                              json={"proposal_id": proposal.json()["id"]},
                              headers=enterprise)).status_code == 200

    listed = await _everything(public, "/public/demands", [("q", "石墨烯"), ("limit", "100")])
    assert [h["id"] for h in listed] == [open_id]
    assert set(listed[0]) == DEMAND_HIT and listed[0]["status"] == "open"
    assert listed[0]["deadline"].endswith("Z") and listed[0]["created_at"].endswith("Z")
    for demand_id, status, count in ((open_id, "open", 0), (closed_id, "closed", 0),
                                     (awarded_id, "awarded", 1)):
        d = _ok(await public.get(f"/public/demands/{demand_id}"))
        assert set(d) == DEMAND and not (PRIVATE - {"created_at"}) & set(d)
        assert (d["status"], d["proposals_count"], d["enterprise_id"]) == (
            status, count, "hebei-steel")
    _is_not_found(await public.get(f"/public/demands/{uuid.uuid4()}"))


async def test_open_demands_page_by_cursor_within_a_region(public):
    conn = await asyncpg.connect(public.db)
    try:
        made = [await add_demand(conn, f"寒区混凝土抗冻需求{i}", region="230102", age=i + 1)
                for i in range(5)]
        await add_demand(conn, "寒区混凝土抗冻需求（河北）", region="130102")
        await add_demand(conn, "寒区混凝土抗冻需求（关闭）", region="230102", status="closed")
    finally:
        await conn.close()
    got = await _everything(public, "/public/demands",
                            [("q", "混凝土"), ("region", "230100"), ("limit", "2")])
    assert [h["id"] for h in got] == [str(d) for d in made]  # newest first, no repeats


# -- hostile input, the limit, the document ----------------------------------------------------

HOSTILE_ACHIEVEMENT_QUERIES = [
    {"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"limit": "99999999999999999999"},
    {"trl_min": "0"}, {"trl_max": "10"}, {"trl_min": "7", "trl_max": "3"},
    {"price_min_fen": "-1"}, {"price_max_fen": str(10**16)}, {"price_min_fen": "1e3"},
    {"price_min_fen": "9", "price_max_fen": "1"}, {"region": "2301"}, {"region": "230199"},
    {"region": "' OR 1=1 --"}, {"field": "astrology"}, {"ip_type": "rumour"},
    {"pricing_route": "barter"}, {"sort": "random"}, {"status": "draft"},
    {"status": "published"}, {"seller_id": "x"}, {"q": "石" * 201}, {"q": "石墨烯\x00"},
    {"cursor": "!!!not-base64!!!"}, {"cursor": "e30"}, {"cursor": "x" * 2001},
    {"cursor": "eyJoIjoiMCIsIm0iOiJub190ZXh0IiwiayI6W251bGwsbnVsbCwxZTMwMCwiMCJdLCJ3IjpbXX0"},
]
HOSTILE_DEMAND_QUERIES = [
    {"limit": "0"}, {"limit": "-5"}, {"status": "closed"}, {"region": "abc"},
    {"field": "x"}, {"q": "\x00"}, {"cursor": "%%%"}, {"min_trl": "3"},
]


async def test_hostile_query_values_are_422_problems_never_5xx(public):
    cases = ([("/public/achievements", q) for q in HOSTILE_ACHIEVEMENT_QUERIES]
             + [("/public/demands", q) for q in HOSTILE_DEMAND_QUERIES]
             + [(f"/public/{kind}/{bad}", {}) for kind in ("achievements", "demands")
                for bad in ("not-a-uuid", "1", "%00", "' OR 1=1")])
    for path, params in cases:
        r = await public.get(path, params=params)
        assert r.status_code == 422, (path, params, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE, (path, params)


async def test_the_public_limit_answers_429_problems_per_address(database_url, common):
    app = create_app(ListingSettings(database_url=database_url),
                     _settings(common, public_rate=0.01, public_burst=2), run_background=False)
    async with running(app) as client:
        for _ in range(2):
            assert (await client.get("/public/demands")).status_code == 200
        for path in ("/public/achievements", f"/public/demands/{uuid.uuid4()}"):
            r = await client.get(path)
            assert r.status_code == 429, r.text
            assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
            assert r.json()["type"] == "urn:techex:problem:rate-limited"
            assert r.json()["limit"] == "public" and int(r.headers["Retry-After"]) >= 1
        # A token does not lift it: the public routes count the address only.
        r = await client.get("/public/achievements",
                             headers=bearer(common, Role.ADMIN, "230000"))
        assert r.status_code == 429


def test_the_public_operations_take_no_token_and_document_every_answer():
    document = create_app(ListingSettings(), run_background=False).openapi()
    public = {path: item for path, item in document["paths"].items()
              if path.startswith("/public/")}
    assert set(public) == {"/public/achievements", "/public/achievements/{achievement_id}",
                           "/public/demands", "/public/demands/{demand_id}"}
    for path, item in public.items():
        assert set(item) == {"get"}, path
        operation = item["get"]
        assert operation["tags"] == ["public"] and "security" not in operation, path
        expected = {"200", "422", "429", "503"} | ({"404"} if "{" in path else set())
        assert set(operation["responses"]) == expected, path
        assert "Retry-After" in operation["responses"]["429"]["headers"], path
    names = {p["name"] for p in public["/public/achievements"]["get"]["parameters"]}
    assert names == {"q", "field", "region", "trl_min", "trl_max", "ip_type", "pricing_route",
                     "price_min_fen", "price_max_fen", "sort", "cursor", "limit", "origin",
                     "province"}
    names = {p["name"] for p in public["/public/demands"]["get"]["parameters"]}
    assert names == {"q", "field", "region", "cursor", "limit"}


def test_every_public_model_is_listed_and_holds_only_its_allowed_fields():
    declared = {name for name, value in inspect.getmembers(schemas, inspect.isclass)
                if name.startswith("Public") and issubclass(value, BaseModel)}
    assert {m.__name__ for m in schemas.PUBLIC_MODELS} == declared == set(ALLOWED)
    for model in schemas.PUBLIC_MODELS:
        assert set(model.model_fields) == ALLOWED[model.__name__], model.__name__
        assert not any(issubclass(model, private) for private in (
            schemas.AchievementOut, schemas.AchievementIn, schemas.DemandOut,
            schemas.AchievementHit, schemas.DemandHit)), model.__name__
