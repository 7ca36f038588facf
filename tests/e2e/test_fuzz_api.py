"""Every operation of the four services' OpenAPI documents, fuzzed with schemathesis against the
services as `techex up` runs them (real PostgreSQL and Kafka, a database per service).

For each operation schemathesis makes requests from the document — the edge cases of its
coverage phase (boundaries, missing and extra members, wrong types, NUL bytes), then requests
hypothesis generates, valid ones and, in the negative mode, ones that break the document — and
each answer must hold:

- no 5xx;
- its status, content type, headers and body are the ones the document gives for it;
- every 4xx is problem+json with a ``urn:techex:problem:`` type;
- what the document says is invalid is refused (4xx).

Each request carries a bearer token of one of the roles the operation admits (the role names of
its ``bearer`` security requirement, see ``shared.openapi``), drawn by hypothesis, for accounts
that own what the exchange was seeded with: a published listing with an open auction, a notice
with an objection, a listing trade, a demand, a completed deal with its contract draft and an
open deal. Path parameters are now generated, now those of the seeded resources, so requests
reach past 404. New operations, parameters and headers of the documents are fuzzed as they come.

Deterministic for CI (hypothesis derandomized, no example database); ``TECHEX_FUZZ_EXAMPLES``
sets the generated examples per operation and mode (25).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.auth import Role
from shared.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_PREFIX
from techex.client import CallFailed
from techex.stack.stack import SERVICES
from tests.support.databases import throwaway_databases
from tests.support.exchange import Exchange
from tests.support.listing import achievement, demand

pytestmark = pytest.mark.timeout(900)

EXAMPLES = int(os.environ.get("TECHEX_FUZZ_EXAMPLES", "25"))

PRINCIPALS: dict[Role, tuple[str, str]] = {
    Role.SELLER: ("hit-university", "230102"),
    Role.BUYER: ("longjiang-coatings", "230103"),
    Role.OPERATOR: ("hlj-exchange", "230000"),
    Role.REGISTRAR: ("hlj-registrar", "230000"),
    Role.REGULATOR: ("hlj-kjt", "230000"),
    Role.ADMIN: ("techex-admin", "230000"),
}
"""Who the fuzzer is, per role: the seller and buyer of the seeded procedures, and overseers of
their province."""

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


def problem_json_for_4xx(ctx: Any, response: schemathesis.Response, case: Any) -> bool | None:
    """A 4xx answer is a problem document with a stable ``urn:techex:problem:`` type."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith(PROBLEM_MEDIA_TYPE), (
        f"{response.status_code} answered as {content_type!r}, not problem+json")
    problem = response.json()
    assert str(problem.get("type", "")).startswith(PROBLEM_TYPE_PREFIX), (
        f"{response.status_code} problem without a urn:techex:problem type: {problem}")
    return True


# -- the exchange, seeded --------------------------------------------------------------------


async def _seed(ex: Exchange) -> tuple[dict[str, str], dict[str, str]]:
    """Resources for the fuzzer to reach: path and query parameters, by name."""
    who = {role: ex.as_(role, region, subject) for role, (subject, region) in PRINCIPALS.items()}
    seller, buyer, operator = who[Role.SELLER], who[Role.BUYER], who[Role.OPERATOR]
    buyer_id = PRINCIPALS[Role.BUYER][0]

    async def published(**overrides: Any) -> str:
        lid = (await ex.call("listing", "POST", "/achievements", seller, expect=201,
                             json=achievement(**overrides)))["id"]
        for step, actor in (("submit", seller), ("review", operator), ("approve", operator)):
            await ex.call("listing", "POST", f"/achievements/{lid}/{step}", actor)
        return lid

    async def notice(listing_id: str) -> dict[str, Any]:
        return await ex.once_published("/notices", {
            "listing_id": listing_id, "project_name": "低温环境锂电池自加热管理技术",
            "abstract": "电池包在零下30摄氏度环境下5分钟内自加热至可用温度。",
            "transfer_mode": "transfer", "price_fen": 86_000_000, "buyer_id": buyer_id,
            "buyer_name": "龙江涂料有限公司", "buyer_relation": "none", "days": 15}, operator)

    auctioned = await published()
    starts = ex.now() + timedelta(days=7, minutes=5)
    auction = await ex.once_published("/auctions", {
        "listing_id": auctioned, "start_price_fen": 150_000_000, "increment_fen": 5_000_000,
        "deposit_ratio": "0.10", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(days=10)).isoformat()}, operator)
    await ex.call("auction", "POST", f"/auctions/{auction['id']}/registrations", buyer,
                  expect=201)
    await ex.confirm_deposit(operator, auction["id"], buyer_id, auction["deposit_fen"])

    settled, open_ = [await notice(await published(pricing_route="negotiated"))
                      for _ in range(2)]
    objection = await ex.call("auction", "POST", f"/notices/{settled['id']}/objections", buyer,
                              expect=201, json={"grounds": "定价明显偏低，请求复核评估报告。"})
    await ex.call("auction", "POST",
                  f"/notices/{settled['id']}/objections/{objection['id']}/resolve", operator,
                  json={"outcome": "dismissed", "reason": "成交价不低于评估价值。"})
    trade_id = ""
    try:
        trade = await ex.once_published("/listing-trades", {
            "listing_id": await published(pricing_route="listing"),
            "listed_price_fen": 50_000_000, "increment_fen": 1_000_000,
            "deposit_fen": 2_500_000, "working_days": 5}, operator)
        trade_id = trade["id"]
    except CallFailed as refused:  # the working-day calendar of these dates is not known yet
        assert "calendar" in str(refused), refused
    demand_id = (await ex.call("listing", "POST", "/demands", buyer, expect=201,
                               json=demand(region="230103")))["id"]

    ex.advance(timedelta(days=16))  # the auction is open; both notices end in a deal
    deals = []
    for n in (settled, open_):
        ended = await ex.until("auction", f"/notices/{n['id']}", buyer,
                               lambda b: b["status"] == "concluded", "the notice to conclude")
        deals.append(await ex.until("settlement", f"/deals/{ended['deal_id']}", operator,
                                    lambda d: True, "the deal to reach settlement"))
    completed, outstanding = deals
    await ex.call("settlement", "POST", f"/deals/{completed['deal_id']}/payments", operator,
                  expect=201, json={"amount_fen": completed["outstanding_fen"],
                                    "reference": "FUZZ-PAY-1"})
    [draft] = await ex.until("registry", "/drafts", seller, lambda ds: bool(ds),
                             "the contract draft")
    path = {
        "achievement_id": auctioned, "listing_id": auctioned, "demand_id": demand_id,
        "auction_id": auction["id"], "notice_id": settled["id"],
        "objection_id": objection["id"], "deal_id": outstanding["deal_id"],
        "contract_id": draft["id"], "seller_id": PRINCIPALS[Role.SELLER][0],
        "account": f"buyer:{buyer_id}",
    }
    if trade_id:
        path["trade_id"] = trade_id
    query = {"procedure_id": auction["id"], "deal_id": completed["deal_id"]}
    return path, query


@pytest.fixture(scope="module")
async def seeded(stack, tmp_path_factory) -> AsyncIterator[tuple[Exchange, dict, dict]]:
    async with throwaway_databases(stack) as new_database:
        ex = Exchange(stack, tmp_path_factory.mktemp("fuzz"),
                      {s: await new_database() for s in SERVICES})
        # A valid request to a live stream stays open for the stream's lifetime: kept short.
        # The public surfaces' per-address limit off, or most fuzzed requests would meet it
        # (tests/shared/test_ratelimit.py and each service's test_public.py test it).
        await ex.start({"LISTING_NOTIFICATION_STREAM_SECONDS": "0.3", "TECHEX_PUBLIC_RATE": "0"})
        try:
            path, query = await _seed(ex)
            yield ex, path, query
        finally:
            await ex.stop()


# -- fuzzing -----------------------------------------------------------------------------------


def _roles(operation: Any) -> list[Role] | None:
    """The roles to sign requests as (admin only when nobody else may), None for no token."""
    requirements = operation.definition.raw.get("security") or []
    named = {Role(r) for requirement in requirements for roles in requirement.values()
             for r in roles}
    if not requirements:
        return None
    if not named:
        return [Role.ADMIN]
    return sorted(named - {Role.ADMIN}) or [Role.ADMIN]


def _streams(operation: Any) -> bool:
    """Whether ``operation`` answers with an unending stream (SSE)."""
    return any("text/event-stream" in (answer.get("content") or {})
               for answer in operation.definition.raw.get("responses", {}).values())


def _cases(operation: Any, mode: GenerationMode, headers: dict[str, str],
           path: dict[str, str], query: dict[str, str]) -> st.SearchStrategy:
    """Requests of ``operation`` with ``headers`` (a token, never negated): with generated path
    parameters, and, in the positive mode, with those of the seeded resources."""
    strategies = [operation.as_strategy(generation_mode=mode, headers=headers or None)]
    names = [p.name for p in operation.path_parameters]
    if mode is GenerationMode.POSITIVE and names and all(n in path for n in names):
        known = {p.name: query[p.name] for p in operation.query if p.name in query}
        strategies.append(operation.as_strategy(
            generation_mode=mode, headers=headers or None,
            path_parameters={n: path[n] for n in names}, query=known or None))
    return st.one_of(strategies)


def _sender(base_url: str, session: requests.Session, answers: Counter[str], label: str
            ) -> Callable[[Any], None]:
    def send(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, timeout=30)
        answers[f"{label} {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS, additional_checks=[problem_json_for_4xx])

    return send


def _coverage(schema: Any, operation: Any, signed: list[dict[str, str]]) -> list[Any]:
    """The deterministic edge cases of schemathesis' coverage phase (boundaries, missing and
    extra members, wrong types), signed in turn with each of ``signed``."""
    generator = CoverageGenerator(
        operation=operation, generation_modes=list(GenerationMode),
        generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
        auth_storage=None, override=Override(), feedback=FeedbackSources())
    cases = list(generator)
    for i, case in enumerate(cases):
        case.headers = {**(case.headers or {}), **signed[i % len(signed)]}
    return cases


def fuzz(base_url: str, tokens: dict[Role, dict[str, str]], path: dict[str, str],
         query: dict[str, str], examples: int) -> tuple[Counter[str], list[str]]:
    """Fuzz every operation of the service at ``base_url``; the answers it gave (operation and
    status) and a report of each operation and mode that failed."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    session = requests.Session()
    failures: list[str] = []
    answers: Counter[str] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        # A stream of a seeded auction never ends: streams are fuzzed on generated ids only.
        known = {} if _streams(operation) else path
        roles = _roles(operation)
        signed = [tokens[role] for role in roles] if roles else [{}]
        label = operation.label
        send = _sender(base_url, session, answers, label)
        for case in _coverage(schema, operation, signed):
            try:
                send(case)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{label} [coverage]\n{exc}")
                break
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cases = st.one_of([_cases(operation, mode, headers, known, query)
                               for headers in signed])
            run: Callable[[], None] = hypothesis.settings(
                max_examples=examples, derandomize=True, deadline=None, database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                verbosity=hypothesis.Verbosity.quiet,
            )(given(cases)(send))
            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing of this operation can be made invalid
            except (Exception, BaseExceptionGroup) as exc:  # each failure is reported below
                failures.append(f"{label} [{mode.value}]\n{exc}")
    return answers, failures


@pytest.mark.parametrize("service", SERVICES)
async def test_no_request_gets_a_server_error_or_an_undocumented_answer(seeded, service):
    ex, path, query = seeded
    tokens = {role: ex.as_(role, region, subject)
              for role, (subject, region) in PRINCIPALS.items()}
    answers, failures = await asyncio.to_thread(fuzz, ex.url(service, ""), tokens, path, query,
                                                EXAMPLES)
    print(f"{service}: {sum(answers.values())} requests", *sorted(answers.items()), sep="\n  ")
    assert not failures, f"{len(failures)} operations of {service} failed:\n\n" + "\n\n".join(
        failures)
    assert answers
