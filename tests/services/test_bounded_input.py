"""Hostile values get 422 problem+json from every service and change nothing: an amount of
10^30 fen, a float amount, a cursor or count of 2^40, a NUL in text — the same rule in every
service, each over its real database."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from services.auction.api import create_app as auction_app
from services.auction.config import AuctionSettings
from services.listing.api import create_app as listing_app
from services.listing.config import ListingSettings
from services.records.api import create_app as records_app
from services.records.config import RecordsSettings
from services.registry.api import create_app as registry_app
from services.registry.config import RegistrySettings
from services.settlement.api import create_app as settlement_app
from services.settlement.config import SettlementSettings
from shared.auth import Role
from shared.kafka import delete_topics
from shared.problems import PROBLEM_MEDIA_TYPE
from shared.settings import CommonSettings
from tests.services.registry.builders import terms
from tests.support.databases import throwaway_databases
from tests.support.listing import achievement
from tests.support.services import bearer, running

HUGE = 10**30
CURSOR = 2**40
NUL = "石墨烯\x00涂料"
SOMEWHERE = uuid.uuid4()

SERVICES: dict[str, tuple[Callable[..., Any], type]] = {
    "listing": (listing_app, ListingSettings),
    "auction": (auction_app, AuctionSettings),
    "settlement": (settlement_app, SettlementSettings),
    "registry": (registry_app, RegistrySettings),
    "records": (records_app, RecordsSettings),
}

# (service, role, method, path, json body or query parameters, the field blamed)
Case = tuple[str, Role, str, str, dict[str, Any], str]

DEPOSIT = {"procedure_id": str(SOMEWHERE), "bidder_id": "longjiang-coatings",
           "amount_fen": 15_000_000}
AUCTION = {"listing_id": str(SOMEWHERE), "start_price_fen": 150_000_000,
           "increment_fen": 5_000_000, "deposit_ratio": "0.10",
           "starts_at": "2026-05-01T02:00:00Z", "ends_at": "2026-05-02T02:00:00Z"}
NOTICE = {"listing_id": str(SOMEWHERE), "project_name": "低温锂电池自加热", "abstract": "摘要",
          "transfer_mode": "transfer", "price_fen": 86_000_000, "buyer_id": "longjiang-coatings",
          "buyer_name": "龙江涂料有限公司", "buyer_relation": "none", "days": 15}

CASES: list[Case] = [
    # an amount of 10^30 fen
    ("listing", Role.SELLER, "POST", "/achievements",
     achievement(reference_price_fen=HUGE), "body.reference_price_fen"),
    ("auction", Role.BUYER, "POST", f"/auctions/{SOMEWHERE}/bids", {"amount_fen": HUGE},
     "body.amount_fen"),
    ("auction", Role.OPERATOR, "POST", "/auctions", {**AUCTION, "start_price_fen": HUGE},
     "body.start_price_fen"),
    ("settlement", Role.OPERATOR, "POST", "/deposits", {**DEPOSIT, "amount_fen": HUGE},
     "body.amount_fen"),
    ("registry", Role.SELLER, "POST", "/contracts", terms(total=HUGE), "body.total_amount_fen"),
    # a float amount, even a whole one
    ("listing", Role.SELLER, "POST", "/achievements",
     achievement(reference_price_fen=150_000_000.0), "body.reference_price_fen"),
    ("auction", Role.BUYER, "POST", f"/auctions/{SOMEWHERE}/bids", {"amount_fen": 1e9},
     "body.amount_fen"),
    ("auction", Role.OPERATOR, "POST", "/notices", {**NOTICE, "price_fen": 86_000_000.0},
     "body.price_fen"),
    ("settlement", Role.OPERATOR, "POST", "/deposits", {**DEPOSIT, "amount_fen": 1819.0},
     "body.amount_fen"),
    ("registry", Role.SELLER, "POST", "/contracts", terms(total=200_000_000.0),
     "body.total_amount_fen"),
    # a cursor, or a count, of 2^40
    ("listing", Role.SELLER, "GET", "/my/achievements", {"limit": CURSOR}, "query.limit"),
    ("auction", Role.BUYER, "GET", f"/auctions/{SOMEWHERE}/bids", {"after": CURSOR},
     "query.after"),
    ("auction", Role.BUYER, "GET", f"/auctions/{SOMEWHERE}/bids", {"after": 7840622896},
     "query.after"),
    ("settlement", Role.BUYER, "GET", "/ledger/accounts/buyer:longjiang-coatings/statement",
     {"after": CURSOR}, "query.after"),
    ("registry", Role.REGISTRAR, "GET", "/filings", {"limit": CURSOR}, "query.limit"),
    # a NUL in text
    ("listing", Role.SELLER, "POST", "/achievements", achievement(title=NUL), "body.title"),
    ("listing", Role.SELLER, "GET", "/search/achievements", {"q": NUL}, "query.q"),
    ("auction", Role.BUYER, "POST", f"/notices/{SOMEWHERE}/objections", {"grounds": NUL},
     "body.grounds"),
    ("auction", Role.OPERATOR, "POST", "/notices", {**NOTICE, "buyer_name": NUL},
     "body.buyer_name"),
    ("settlement", Role.OPERATOR, "POST", "/deposits", {**DEPOSIT, "bidder_id": "b\x00"},
     "body.bidder_id"),
    ("settlement", Role.OPERATOR, "POST", f"/deals/{SOMEWHERE}/payments",
     {"amount_fen": 100, "reference": NUL}, "body.reference"),
    ("registry", Role.SELLER, "POST", "/contracts", terms(project_name=NUL),
     "body.project_name"),
    ("registry", Role.SELLER, "POST", f"/contracts/{SOMEWHERE}/submission",
     {"deliverable": NUL}, "body.deliverable"),
    # records: a year of 10^30, a count of 2^40, a NUL in a holder and in a PDF
    ("records", Role.SELLER, "GET", "/reports/annual", {"holder": "hit", "year": HUGE},
     "query.year"),
    ("records", Role.SELLER, "GET", "/reports/annual", {"holder": NUL, "year": 2026},
     "query.holder"),
    ("records", Role.REGULATOR, "GET", "/procedures", {"limit": CURSOR}, "query.limit"),
    ("records", Role.REGULATOR, "GET", "/public/chain/digests", {"limit": CURSOR},
     "query.limit"),
    ("records", Role.BUYER, "POST", "/public/certificates/JYJZ-230000-2026-000001/check",
     {"pdf": NUL}, "body.pdf"),
    ("records", Role.BUYER, "POST", "/public/certificates/JYJZ-230000-2026-000001/check",
     {"sha256": 1.5}, "body.sha256"),
]

PRINCIPALS = {Role.SELLER: ("hit-university", "230100"),
              Role.BUYER: ("longjiang-coatings", "230103"),
              Role.OPERATOR: ("harbin-exchange", "230100"),
              Role.REGISTRAR: ("harbin-registrar", "230100"),
              Role.REGULATOR: ("hlj-kjt", "230000")}


@pytest.fixture(scope="module", params=sorted(SERVICES))
async def service(request, stack) -> AsyncIterator[tuple[str, httpx.AsyncClient, str]]:
    name = request.param
    create_app, settings = SERVICES[name]
    common = CommonSettings(kafka_bootstrap_servers=stack.bootstrap,
                            topic_prefix=f"t{uuid.uuid4().hex[:10]}", topic_partitions=2)
    try:
        async with throwaway_databases(stack) as new_database:
            url = await new_database()
            app = create_app(settings(database_url=url), common, run_background=False)
            async with running(app) as client:
                client.common = common
                yield name, client, url
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(stack.bootstrap, common.topic_prefix + ".")


async def row_counts(url: str) -> dict[str, int]:
    """Rows in every table of the service's database."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT quote_ident(table_name) AS t FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
        return {r["t"]: await conn.fetchval(f"SELECT count(*) FROM {r['t']}") for r in tables}
    finally:
        await conn.close()


async def test_hostile_values_are_422_problems_and_write_nothing(service):
    name, client, url = service
    cases = [c for c in CASES if c[0] == name]
    assert cases
    before = await row_counts(url)
    for _, role, method, path, data, field in cases:
        subject, region = PRINCIPALS[role]
        headers = bearer(client.common, role, region, subject)
        if method == "GET":
            r = await client.get(path, params=data, headers=headers)
        else:
            r = await client.request(method, path, json=data, headers=headers)
        assert r.status_code == 422, (path, field, r.text)
        assert r.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
        problem = r.json()
        assert problem["type"] == "urn:techex:problem:validation"
        assert field in [e["field"] for e in problem["errors"]], (path, problem)
    assert await row_counts(url) == before


async def test_a_body_sent_as_text_is_415_and_garbage_400_on_every_service(service):
    name, client, url = service
    path, role = {"listing": ("/achievements", Role.SELLER),
                  "auction": (f"/auctions/{SOMEWHERE}/bids", Role.BUYER),
                  "settlement": ("/deposits", Role.OPERATOR),
                  "registry": ("/contracts", Role.SELLER),
                  "records": ("/public/certificates/JYJZ-230000-2026-000001/check",
                              Role.BUYER)}[name]
    subject, region = PRINCIPALS[role]
    headers = bearer(client.common, role, region, subject)
    before = await row_counts(url)
    as_text = await client.post(path, content=b'{"amount_fen": 100}',
                                headers={**headers, "Content-Type": "text/plain"})
    assert as_text.status_code == 415
    assert as_text.json()["type"] == "urn:techex:problem:unsupported-media-type"
    latin1 = await client.post(path, content='{"title": "é"}'.encode("latin-1"),
                               headers={**headers, "Content-Type": "application/json"})
    assert latin1.status_code == 400
    assert latin1.json()["type"] == "urn:techex:problem:malformed-body"
    assert await row_counts(url) == before
